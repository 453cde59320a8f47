/**
 * EngineCanary: the smallest workflow that crosses every part of the stack (ingress, journal,
 * worker, database). Operators and the test suite use it to prove the loop works; the benchmark
 * uses it as the Restate ceiling with the same number of journaled steps as a transaction.
 *
 * Steps: for step 1..steps, `record-step-N` inserts one row into `canary_steps` (every execution
 * inserts, so a re-executed step is visible). With `holdAfterStep`, the workflow then waits on the
 * durable promise `release` (resolved through the shared `release` handler) before going on.
 * With `failAtStep`, it fails terminally after that step: a drill for the operator recovery routes.
 * Compensations: none; the rows are evidence, not effects to undo.
 */
import * as restate from "@restatedev/restate-sdk";
import { z } from "zod";
import { DomainTerminalError } from "../../../shared/errors.ts";

export const engineCanaryInput = z
  .object({
    steps: z.number().int().min(1).max(100).default(3),
    holdAfterStep: z.number().int().min(1).optional(),
    /** Fails terminally at this step (after recording it): an operator drill for recovery routes. */
    failAtStep: z.number().int().min(1).optional(),
  })
  .strict()
  .refine((input) => input.holdAfterStep === undefined || input.holdAfterStep < input.steps, {
    message: "holdAfterStep must be smaller than steps",
    path: ["holdAfterStep"],
  });

export type EngineCanaryInput = z.input<typeof engineCanaryInput>;
export type EngineCanaryResult = { runKey: string; steps: number; finishedAt: number };
export type EngineCanaryStatus = { completedSteps: number; waitingForRelease: boolean };

type CanaryState = { completedSteps: number; waitingForRelease: boolean };

export type EngineCanaryDependencies = {
  recordStep(runKey: string, step: number): Promise<void>;
  metrics: { workflowCompleted(workflowType: string, outcome: "success" | "terminal_error"): void };
};

export const RELEASE_PROMISE = "release";

export function createEngineCanary(dependencies: EngineCanaryDependencies) {
  return restate.workflow({
    name: "EngineCanary",
    handlers: {
      run: restate.handlers.workflow.workflow(
        { input: restate.serde.schema(engineCanaryInput) },
        async (ctx: restate.WorkflowContext<CanaryState>, input): Promise<EngineCanaryResult> => {
          for (let step = 1; step <= input.steps; step++) {
            await ctx.run(`record-step-${step}`, () => dependencies.recordStep(ctx.key, step));
            ctx.set("completedSteps", step);
            if (input.failAtStep === step) {
              await ctx.run("count-failure", async () => dependencies.metrics.workflowCompleted("EngineCanary", "terminal_error"));
              throw new DomainTerminalError("CANARY_DRILL_FAILURE", `canary failed at step ${step} as requested`);
            }
            if (input.holdAfterStep === step) {
              ctx.set("waitingForRelease", true);
              ctx.console.info("waiting for release", { step });
              await ctx.promise<string>(RELEASE_PROMISE);
              ctx.set("waitingForRelease", false);
            }
          }
          ctx.console.info("canary finished", { steps: input.steps });
          await ctx.run("count-success", async () => dependencies.metrics.workflowCompleted("EngineCanary", "success"));
          return { runKey: ctx.key, steps: input.steps, finishedAt: await ctx.date.now() };
        },
      ),
      release: restate.handlers.workflow.shared(
        async (ctx: restate.WorkflowSharedContext<CanaryState>): Promise<void> => {
          await ctx.promise<string>(RELEASE_PROMISE).resolve("released");
        },
      ),
      status: restate.handlers.workflow.shared(
        async (ctx: restate.WorkflowSharedContext<CanaryState>): Promise<EngineCanaryStatus> => ({
          completedSteps: (await ctx.get("completedSteps")) ?? 0,
          waitingForRelease: (await ctx.get("waitingForRelease")) ?? false,
        }),
      ),
    },
  });
}

export type EngineCanary = ReturnType<typeof createEngineCanary>;
