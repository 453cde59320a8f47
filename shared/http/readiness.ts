/**
 * Start-up progress of a process: a fixed list of steps, each pending until marked done (or
 * failed). `/health/ready` answers 200 only once every step is done.
 */
export type ReadinessSnapshot = {
  ready: boolean;
  done: string[];
  pending: string[];
  failed: { step: string; error: string }[];
};

export type Readiness = {
  done(step: string): void;
  fail(step: string, error: string): void;
  snapshot(): ReadinessSnapshot;
};

export function createReadiness(steps: readonly string[]): Readiness {
  const state = new Map<string, { status: "pending" | "done" | "failed"; error?: string }>(
    steps.map((step) => [step, { status: "pending" }]),
  );
  const ensureKnown = (step: string) => {
    if (!state.has(step)) throw new Error(`unknown readiness step "${step}"`);
  };
  return {
    done: (step) => {
      ensureKnown(step);
      state.set(step, { status: "done" });
    },
    fail: (step, error) => {
      ensureKnown(step);
      state.set(step, { status: "failed", error });
    },
    snapshot: () => {
      const entries = [...state.entries()];
      const done = entries.filter(([, s]) => s.status === "done").map(([step]) => step);
      const pending = entries.filter(([, s]) => s.status === "pending").map(([step]) => step);
      const failed = entries
        .filter(([, s]) => s.status === "failed")
        .map(([step, s]) => ({ step, error: s.error ?? "failed" }));
      return { ready: pending.length === 0 && failed.length === 0, done, pending, failed };
    },
  };
}
