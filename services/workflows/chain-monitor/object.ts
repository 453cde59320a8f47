/**
 * ChainMonitor: one virtual object per chain (keyed by the chain id) that follows new blocks for
 * every transaction waiting on that chain, so waiting workflows do not each poll the node.
 *
 * watch:  a workflow registers an awakeable and the block it has seen; the monitor starts
 *         following the chain if it was idle.
 * follow: reads the head block (one journaled step for all waiters), wakes every waiter whose
 *         block has been passed, and schedules itself again while anyone is waiting.
 * A waiter also sleeps for its own fallback interval, so a monitor that is slow or stuck only makes
 * confirmation as slow as plain polling, never stops it.
 */
import * as restate from "@restatedev/restate-sdk";
import type { ChainRegistry } from "../../../shared/evm/chain-access.ts";
import { tryStep, stepRetryPolicies } from "../../../shared/restate/step-retry.ts";

type Waiter = { awakeableId: string; afterBlock: number };
type State = { waiters: Waiter[]; following: boolean };
type Ctx = restate.ObjectContext<State>;

export type ChainMonitorDependencies = { chains: ChainRegistry; settings: { blockPollMs: number } };

/** A waiter registered longer ago than this many polls without a new block is dropped (it has its fallback). */
const MAX_WAITERS = 10_000;

export function createChainMonitor(dependencies: ChainMonitorDependencies) {
  const scheduleFollow = (ctx: Ctx) => {
    ctx.objectSendClient(chainMonitor, ctx.key).follow(restate.rpc.sendOpts({ delay: { milliseconds: dependencies.settings.blockPollMs } }));
  };

  return restate.object({
    name: "ChainMonitor",
    handlers: {
      watch: async (ctx: Ctx, waiter: Waiter): Promise<void> => {
        const waiters = (await ctx.get("waiters")) ?? [];
        ctx.set("waiters", [...waiters, waiter].slice(-MAX_WAITERS));
        if (!(await ctx.get("following"))) {
          ctx.set("following", true);
          scheduleFollow(ctx);
        }
      },
      follow: async (ctx: Ctx): Promise<void> => {
        const waiters = (await ctx.get("waiters")) ?? [];
        if (waiters.length === 0) {
          ctx.set("following", false);
          return;
        }
        const chain = dependencies.chains.get(Number(ctx.key));
        const head = chain ? await tryStep(ctx, "head", async () => Number(await chain.client.getBlockNumber()), stepRetryPolicies.check) : null;
        if (head !== null) {
          const woken = waiters.filter((w) => head > w.afterBlock);
          for (const waiter of woken) ctx.resolveAwakeable(waiter.awakeableId, head);
          ctx.set("waiters", waiters.filter((w) => head <= w.afterBlock));
        }
        scheduleFollow(ctx);
      },
      waiting: restate.handlers.object.shared(async (ctx: restate.ObjectSharedContext<State>): Promise<{ waiters: number; following: boolean }> => ({
        waiters: ((await ctx.get("waiters")) ?? []).length,
        following: (await ctx.get("following")) ?? false,
      })),
    },
  });
}

export type ChainMonitor = ReturnType<typeof createChainMonitor>;
/** The monitor's definition for typed clients. */
export const chainMonitor: ChainMonitor = { name: "ChainMonitor" } as ChainMonitor;

/**
 * The pause of a confirmation loop: until the monitor sees a block after `afterBlock`, the fallback
 * interval, or `wakeOn` (a cancellation, say), whichever comes first; answers which it was.
 */
export async function waitForNextBlock(
  ctx: Pick<restate.WorkflowContext, "awakeable" | "objectSendClient" | "sleep">,
  parameters: { chainId: number; afterBlock: number; fallbackMs: number; headers?: Record<string, string>; wakeOn?: restate.RestatePromise<unknown> },
): Promise<"block" | "timeout" | "woken"> {
  const { id, promise } = ctx.awakeable<number>();
  ctx
    .objectSendClient(chainMonitor, String(parameters.chainId))
    .watch({ awakeableId: id, afterBlock: parameters.afterBlock }, restate.rpc.sendOpts({ headers: parameters.headers ?? {} }));
  const waits: restate.RestatePromise<"block" | "timeout" | "woken">[] = [
    promise.map(() => "block" as const),
    ctx.sleep({ milliseconds: parameters.fallbackMs }).map(() => "timeout" as const),
  ];
  if (parameters.wakeOn) waits.push(parameters.wakeOn.map(() => "woken" as const));
  return restate.RestatePromise.race(waits);
}
