/**
 * Fakes of what a transaction route is handed by its workflow: the context (`run`, `sleep`,
 * `date`, `console`, `promise`) and the phase recorder. A route's state machine runs in-process,
 * with no Restate server:
 *  - `run` runs the step at once and keeps its name and retry policy; a failure that is not a
 *    TerminalError is retried, and under a policy with a budget (`maxRetryDuration`) it becomes a
 *    TerminalError at once, as the SDK does when the budget is spent;
 *  - `sleep` resolves at once, is recorded, and moves the context's clock by its length;
 *  - durable promises are settled by the test. Their `get()` is made with `RestatePromise.resolve`,
 *    which needs no context, so the SDK's own `RestatePromise.race` over them works as on a server.
 */
import { Console } from "node:console";
import { Writable } from "node:stream";
import * as restate from "@restatedev/restate-sdk";
import type { PhaseRecorder } from "../../services/workflows/transaction-execution/phase-recorder.ts";
import type { TransactionPhase, TransactionStatus } from "../../services/workflows/transaction-execution/status.ts";

export type RouteContext = Pick<restate.WorkflowContext, "run" | "sleep" | "date" | "console" | "promise">;
type Duration = { days?: number; hours?: number; minutes?: number; seconds?: number; milliseconds?: number };
type RunPolicy = { maxRetryDuration?: Duration | number };

/** An unbudgeted step that fails this often is a test's mistake, not an outage. */
const MAX_UNBUDGETED_ATTEMPTS = 20;
/** A route that journals this many steps runs away: failing beats spinning on microtasks, which no test timeout interrupts. */
const MAX_STEPS = 1_000;

const millis = (duration: Duration | number) =>
  typeof duration === "number"
    ? duration
    : (duration.milliseconds ?? 0) + 1_000 * ((duration.seconds ?? 0) + 60 * ((duration.minutes ?? 0) + 60 * ((duration.hours ?? 0) + 24 * (duration.days ?? 0))));

function durablePromise<T>(): restate.DurablePromise<T> {
  let settle: { resolve: (value: T) => void; reject: (error: Error) => void } | undefined;
  let value: T | undefined;
  const promise = new Promise<T>((resolve, reject) => (settle = { resolve, reject }));
  promise.catch(() => undefined);
  return Object.assign(promise, {
    peek: () => Promise.resolve(value),
    resolve: (resolved?: T) => {
      value = resolved;
      settle!.resolve(resolved as T);
      return Promise.resolve();
    },
    reject: (message: string) => {
      settle!.reject(new restate.TerminalError(message));
      return Promise.resolve();
    },
    get: () => restate.RestatePromise.resolve(promise),
  });
}

export function fakeWorkflowContext(options: { now?: number } = {}) {
  let clock = options.now ?? Date.parse("2026-01-01T00:00:00.000Z");
  const runs: { name: string; policy: RunPolicy | undefined; attempts: number }[] = [];
  const sleeps: number[] = [];
  const logs: string[] = [];
  const promises = new Map<string, restate.DurablePromise<unknown>>();
  let cancelledSleep: number | null = null;

  const attempt = async <T>(name: string, action: () => T | Promise<T>, policy: RunPolicy | undefined): Promise<T> => {
    if (runs.length >= MAX_STEPS) throw new Error(`the route journaled ${MAX_STEPS} steps without ending; last: ${name}`);
    const run = { name, policy, attempts: 0 };
    runs.push(run);
    for (;;) {
      run.attempts += 1;
      try {
        return await action();
      } catch (error) {
        if (error instanceof restate.TerminalError) throw error;
        if (policy?.maxRetryDuration !== undefined) throw new restate.TerminalError(error instanceof Error ? error.message : String(error));
        if (run.attempts >= MAX_UNBUDGETED_ATTEMPTS) throw new Error(`step ${name} failed ${run.attempts} times`, { cause: error });
      }
    }
  };

  const promise = <T>(name: string): restate.DurablePromise<T> => {
    if (!promises.has(name)) promises.set(name, durablePromise<T>());
    return promises.get(name) as restate.DurablePromise<T>;
  };

  const ctx = {
    run: ((name: string, action: () => unknown, policy?: RunPolicy) => restate.RestatePromise.resolve(attempt(name, action, policy))) as RouteContext["run"],
    sleep: (duration: Duration | number) => {
      const index = sleeps.push(millis(duration)) - 1;
      if (index === cancelledSleep) return restate.RestatePromise.reject<void>(new restate.CancelledError());
      clock += millis(duration);
      return restate.RestatePromise.resolve(undefined);
    },
    date: { now: () => Promise.resolve(clock), toJSON: () => Promise.resolve(new Date(clock).toJSON()) },
    console: new Console(new Writable({ write: (chunk: Buffer, _encoding, done) => (logs.push(chunk.toString().trimEnd()), done()) })),
    promise,
  } satisfies RouteContext;

  return {
    ctx,
    /** Every journaled step in order: its name, retry policy and how often its action ran. */
    runs,
    /** The length of every durable sleep, in order. */
    sleeps,
    logs,
    promise,
    now: () => clock,
    /** The sleep at this index (from 0) fails as when Restate cancels the invocation while it waits. */
    cancelAtSleep: (index: number) => (cancelledSleep = index),
  };
}

export type RecordedTransition = { phase: TransactionPhase; change: Partial<TransactionStatus> & { blockHash?: string | null }; reason: string | undefined };

/** A phase recorder that keeps every transition (and every published status) instead of writing them. */
export function fakePhaseRecorder(initial: TransactionStatus) {
  let status = initial;
  const transitions: RecordedTransition[] = [];
  const published: TransactionStatus[] = [];
  const record = (changes: { phase: TransactionPhase; change?: RecordedTransition["change"]; reason?: string | undefined }[]) => {
    for (const { phase, change = {}, reason } of changes) {
      // As the real recorder: the block hash goes to the record, not into the status.
      const statusChange: Partial<TransactionStatus> & { blockHash?: string | null } = { ...change };
      delete statusChange.blockHash;
      status = { ...status, ...statusChange, phase };
      transitions.push({ phase, change, reason });
    }
    return Promise.resolve();
  };
  const recorder: PhaseRecorder = {
    get status() {
      return status;
    },
    publish: (next) => {
      status = next;
      published.push(next);
    },
    transition: (phase, change, reason) => record([{ phase, change, reason }]),
    transitions: (changes) => record(changes),
  };
  return { recorder, transitions, published };
}
