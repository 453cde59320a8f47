/**
 * A virtual object that runs a piece of work again and again, one loop per key (per chain, per
 * currency pair), surviving restarts and any number of worker replicas:
 *
 * - `start` begins a loop unless one is live (its next tick is scheduled and not long overdue);
 *   calling it at every boot, from every replica, leaves exactly one loop.
 * - `tick` does the work, then schedules the next tick with a delayed one-way call to itself.
 *   Delayed calls are durable in Restate, so a restart loses nothing. A tick carrying an older
 *   generation than the key's state is a leftover of a replaced loop and does nothing.
 * - `runOnce` does one round now without touching the loop; `stop` ends the loop; `describe`
 *   (shared) tells whether one is live.
 */
import * as restate from "@restatedev/restate-sdk";

export type RecurringState = { generation: number; intervalMs: number; nextTickAt: number | null; ticks: number; lastError: string | null };
export type RecurringStatus = RecurringState & { live: boolean };

export type CreateRecurringObjectParameters = {
  name: string;
  /** The work of one tick; journaled steps inside it as usual. A terminal error is logged, the loop goes on. */
  tick: (ctx: restate.ObjectContext, key: string) => Promise<void>;
  /** A loop whose next tick is this late counts as dead and `start` replaces it. */
  overdueAfterMs?: (intervalMs: number) => number;
};

const EMPTY: RecurringState = { generation: 0, intervalMs: 0, nextTickAt: null, ticks: 0, lastError: null };

export function createRecurringObject(parameters: CreateRecurringObjectParameters) {
  const overdue = parameters.overdueAfterMs ?? ((interval) => Math.max(3 * interval, 60_000));
  const isLive = (state: RecurringState, now: number) => state.nextTickAt !== null && now - state.nextTickAt < overdue(state.intervalMs);
  type Ctx = restate.ObjectContext<{ loop: RecurringState }>;

  const object = restate.object({
    name: parameters.name,
    handlers: {
      start: async (ctx: Ctx, input: { intervalMs: number }): Promise<{ started: boolean; generation: number }> => {
        const state = (await ctx.get("loop")) ?? EMPTY;
        const now = await ctx.date.now();
        if (isLive(state, now)) {
          if (state.intervalMs !== input.intervalMs) ctx.set("loop", { ...state, intervalMs: input.intervalMs });
          return { started: false, generation: state.generation };
        }
        const generation = state.generation + 1;
        ctx.set("loop", { ...state, generation, intervalMs: input.intervalMs, nextTickAt: now });
        ctx.objectSendClient<RecurringObject>({ name: parameters.name }, ctx.key).tick({ generation });
        return { started: true, generation };
      },
      tick: async (ctx: Ctx, input: { generation: number }): Promise<void> => {
        const state = (await ctx.get("loop")) ?? EMPTY;
        if (input.generation !== state.generation || state.nextTickAt === null) return;
        let lastError: string | null = null;
        try {
          await parameters.tick(ctx as unknown as restate.ObjectContext, ctx.key);
        } catch (error) {
          if (!(error instanceof restate.TerminalError)) throw error;
          lastError = error.message;
          ctx.console.error("recurring work failed; the loop goes on", { object: parameters.name, key: ctx.key, error: error.message });
        }
        const now = await ctx.date.now();
        ctx.set("loop", { ...state, ticks: state.ticks + 1, lastError, nextTickAt: now + state.intervalMs });
        ctx
          .objectSendClient<RecurringObject>({ name: parameters.name }, ctx.key)
          .tick({ generation: state.generation }, restate.rpc.sendOpts({ delay: { milliseconds: state.intervalMs } }));
      },
      /** One round of the work now, outside the schedule (operators, tests); the loop is untouched. */
      runOnce: async (ctx: Ctx): Promise<void> => {
        await parameters.tick(ctx as unknown as restate.ObjectContext, ctx.key);
      },
      stop: async (ctx: Ctx): Promise<void> => {
        const state = (await ctx.get("loop")) ?? EMPTY;
        ctx.set("loop", { ...state, generation: state.generation + 1, nextTickAt: null });
      },
      describe: restate.handlers.object.shared(async (ctx: restate.ObjectSharedContext<{ loop: RecurringState }>): Promise<RecurringStatus> => {
        const state = (await ctx.get("loop")) ?? EMPTY;
        return { ...state, live: isLive(state, await ctx.date.now()) };
      }),
    },
  });
  return object;
}

type RecurringObject = ReturnType<typeof createRecurringObject>;
export type RecurringObjectApi = RecurringObject;
