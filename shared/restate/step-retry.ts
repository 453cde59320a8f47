/**
 * The one retry helper of ddwf's handlers. Inside a journaled step a `TerminalError` (validation,
 * policy, revert, missing code) is never retried; anything else (RPC, network, database) is retried
 * with exponential backoff under the step's policy. When a policy's budget runs out, the SDK turns
 * the last failure into a `TerminalError`: `runStep` lets it fail the handler, `tryStep` hands the
 * caller `null` so a loop can decide (usually: pause and look again).
 */
import { TerminalError, type Context } from "@restatedev/restate-sdk";

type StepContext = Pick<Context, "run">;

export type StepRetryPolicy = {
  initialRetryInterval: { milliseconds: number };
  maxRetryInterval: { milliseconds: number };
  retryIntervalFactor?: number;
  /** Absent: retried until it succeeds. */
  maxRetryDuration?: { milliseconds: number };
};

export const stepRetryPolicies = {
  /** Work before anything irreversible: bounded, so a long outage ends in a dead letter. */
  bounded: (budgetMs: number): StepRetryPolicy => ({
    initialRetryInterval: { milliseconds: 200 },
    maxRetryInterval: { milliseconds: 5_000 },
    retryIntervalFactor: 2,
    maxRetryDuration: { milliseconds: budgetMs },
  }),
  /** A look at the chain inside a polling loop: give up quickly, the loop looks again. */
  check: {
    initialRetryInterval: { milliseconds: 200 },
    maxRetryInterval: { milliseconds: 2_000 },
    retryIntervalFactor: 2,
    maxRetryDuration: { milliseconds: 10_000 },
  } satisfies StepRetryPolicy,
};

export function runStep<T>(ctx: StepContext, name: string, action: () => Promise<T>, policy: StepRetryPolicy): Promise<T> {
  return ctx.run(name, action, policy);
}

export async function tryStep<T>(ctx: StepContext, name: string, action: () => Promise<T>, policy: StepRetryPolicy): Promise<T | null> {
  try {
    return await ctx.run(name, action, policy);
  } catch (error) {
    if (error instanceof TerminalError) return null;
    throw error;
  }
}

/**
 * Invocation retry policy of the services that ride out chain outages. Every failed attempt of a
 * step counts as an invocation retry on the server, and the server's default (70 attempts, then
 * pause) would pause a transaction after a couple of minutes of RPC outage. These services retry
 * for about a day (10 000 attempts, at most 10 s apart) before pausing for an operator.
 */
export const OUTAGE_TOLERANT_RETRY_POLICY = {
  maxAttempts: 10_000,
  onMaxAttempts: "pause",
  initialInterval: 200,
  maxInterval: 10_000,
  exponentiationFactor: 2,
} as const;
