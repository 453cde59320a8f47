/**
 * What a worker needs to know of a workflow key's runs from Restate's admin API: whether a run is
 * live, and clearing finished runs so the key can run again (a workflow key runs once until its
 * run is purged or its retention ends).
 */
import type { RestateAdminClient } from "./admin-client.ts";
import { RestateAdminError } from "./admin-client.ts";
import { parseServerTimestamp, readFinishedRunJournals, timerVerdict } from "./pending-timers.ts";

export type RunState =
  /** No run of the key is known: never started, purged, or past retention. */
  | { kind: "none" }
  /** A run is pending, running, suspended, backing off or paused. */
  | { kind: "active"; invocationId: string }
  /** The last run finished: `success`, or `failure` (a terminal error, a kill, a cancellation). */
  | { kind: "finished"; invocationId: string; result: "success" | "failure"; failure: string | null };

type InvocationRow = { id: string; target_service_key: string; status: string; completion_result?: string; completion_failure?: string; created_at?: string };

const quote = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** The state of the `run` of each key (one query for all of them). */
export async function runStates(admin: RestateAdminClient, service: string, keys: string[]): Promise<Map<string, RunState>> {
  const states = new Map<string, RunState>(keys.map((key) => [key, { kind: "none" }]));
  if (keys.length === 0) return states;
  const rows = await admin.query<InvocationRow>(
    `SELECT id, target_service_key, status, completion_result, completion_failure, created_at FROM sys_invocation
     WHERE target_service_name = ${quote(service)} AND target_handler_name = 'run' AND target_service_key IN (${keys.map(quote).join(", ")})
     ORDER BY created_at`,
  );
  for (const row of rows) {
    const current = states.get(row.target_service_key);
    if (current?.kind === "active") continue;
    states.set(
      row.target_service_key,
      row.status === "completed"
        ? { kind: "finished", invocationId: row.id, result: row.completion_result === "success" ? "success" : "failure", failure: row.completion_failure ?? null }
        : { kind: "active", invocationId: row.id },
    );
  }
  return states;
}

export type ClearFinishedRuns =
  | { kind: "cleared" }
  /** A run of the key is unfinished: it is never raced. */
  | { kind: "active" }
  /** A finished `run` still has a sleep that has not come due (pending-timers.ts); nothing was purged. */
  | { kind: "timers-pending"; retryAt: string };

/**
 * Purges every finished invocation of a workflow key, so the key can be submitted again. Refuses
 * (answers `active`) while one is unfinished: a live run is never raced. Defers (answers
 * `timers-pending`, purging nothing so the journal that shows the sleep stays) while a finished
 * `run` may still fire a timer, which Restate would deliver into the next run of the key.
 */
export async function clearFinishedRuns(admin: RestateAdminClient, service: string, key: string): Promise<ClearFinishedRuns> {
  const rows = await admin.query<InvocationRow & { target_handler_name: string; modified_at?: string }>(
    `SELECT id, target_service_key, target_handler_name, status, modified_at FROM sys_invocation
     WHERE target_service_name = ${quote(service)} AND target_service_key = ${quote(key)}`,
  );
  if (rows.some((row) => row.status !== "completed")) return { kind: "active" };
  const runs = rows.filter((row) => row.target_handler_name === "run");
  const read = await readFinishedRunJournals(
    admin,
    runs.map((row) => ({ invocationId: row.id, finishedAt: row.modified_at ? parseServerTimestamp(row.modified_at) : Date.now() })),
  );
  const verdict = timerVerdict(read.runs, read.now);
  if (verdict.kind === "pending") return { kind: "timers-pending", retryAt: new Date(verdict.until).toISOString() };
  for (const row of rows) {
    try {
      await admin.purgeInvocation(row.id);
    } catch (error) {
      // Purged meanwhile (retention, another reconciler round): the state we want.
      if (!(error instanceof RestateAdminError && error.status === 404)) throw error;
    }
  }
  return { kind: "cleared" };
}
