/**
 * The Restate floor of the benchmark: the least a durable transaction on Restate can cost, with
 * nothing of ddwf in it. A workflow runs two journaled steps and makes one request-response call to
 * a virtual object whose handler runs two journaled steps and writes one state key. No database, no
 * chain: only Restate's own work (invocations, journal entries, state) and the SDK's.
 */
import * as restate from "@restatedev/restate-sdk";

/** A step's work: a little computation standing in for a side effect. */
const step = async (label: string) => label.length;

export const floorObject = restate.object({
  name: "BenchFloorObject",
  handlers: {
    touch: async (ctx: restate.ObjectContext, input: { id: string }): Promise<number> => {
      await ctx.run("first", () => step(input.id));
      await ctx.run("second", () => step(input.id));
      const count = ((await ctx.get<number>("count")) ?? 0) + 1;
      ctx.set("count", count);
      return count;
    },
  },
});

export const floorWorkflow = restate.workflow({
  name: "BenchFloorWorkflow",
  handlers: {
    run: async (ctx: restate.WorkflowContext, input: { objectKey: string }): Promise<number> => {
      await ctx.run("before", () => step(ctx.key));
      const count = await ctx.objectClient(floorObject, input.objectKey).touch({ id: ctx.key });
      await ctx.run("after", () => step(ctx.key));
      return count;
    },
  },
});
