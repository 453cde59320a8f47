/**
 * Saga helper for workflows with compensations: each completed step registers how to undo it; on a
 * terminal failure the registered compensations run in reverse order. A compensation must be
 * journaled work itself (a `ctx.run` step or a durable call, such as a child transaction workflow),
 * so it is retried by its own policy and never repeated after a crash.
 *
 * When a compensation fails terminally, the saga stops there: undoing the earlier steps on top of a
 * half-undone later one could leave things worse (e.g. an identity moved back while balances stay
 * moved). The outcome lists what was undone, what failed and what is left, for an operator.
 */
import { TerminalError } from "@restatedev/restate-sdk";

export type SagaOutcome =
  | { kind: "compensated"; compensated: string[] }
  | { kind: "needs-operator"; compensated: string[]; failed: { step: string; error: string }; remaining: string[] };

export type Saga = {
  /** Registers the undo of a step that has just completed. */
  onFailure(step: string, compensate: () => Promise<void>): void;
  /** Steps with a registered compensation, in the order they completed. */
  registered(): string[];
  /** Runs the compensations in reverse order. */
  compensate(): Promise<SagaOutcome>;
};

export function createSaga(): Saga {
  const steps: { step: string; compensate: () => Promise<void> }[] = [];
  return {
    onFailure: (step, compensate) => {
      steps.push({ step, compensate });
    },
    registered: () => steps.map((s) => s.step),
    compensate: async () => {
      const compensated: string[] = [];
      const reversed = [...steps].reverse();
      for (const [index, entry] of reversed.entries()) {
        try {
          await entry.compensate();
          compensated.push(entry.step);
        } catch (error) {
          if (!(error instanceof TerminalError)) throw error;
          return {
            kind: "needs-operator",
            compensated,
            failed: { step: entry.step, error: error.message },
            remaining: reversed.slice(index + 1).map((s) => s.step),
          };
        }
      }
      return { kind: "compensated", compensated };
    },
  };
}
