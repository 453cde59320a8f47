/**
 * Whether a finished workflow run may still fire a timer into the key's next run.
 *
 * Restate 1.7 keeps an invocation's sleep timers when the invocation is killed and when it is
 * purged; a timer that comes due is delivered to whichever invocation then has its invocation id.
 * A workflow's `run` has the same id on every run of its key, so a run started while an earlier
 * run's sleep is still due receives that sleep's completion in its own journal, at the place of an
 * unrelated step (the SDK then fails that step on every retry and the run never ends). Before
 * purging a finished run so its key can run again, the operator paths ask this module whether all
 * of the run's sleeps have come due.
 *
 * The finished run's journal (kept for Restate's journal retention, a day unless configured) lists
 * the sleeps it started and the ones that completed; the latest wake-up of the others bounds when
 * the last stale timer fires. A finished run whose journal is gone gives no such bound: it counts as
 * quiet only once it finished longer ago than `unseenHorizonMs`.
 */
import type { RestateAdminClient } from "./admin-client.ts";

/** A sleep of a run's journal: its completion id, and when it comes due (ms since the epoch). */
export type JournalSleep = { kind: "sleep"; completionId: number; wakeUpAt: number } | { kind: "sleep-completed"; completionId: number };

export type FinishedRunJournal = {
  invocationId: string;
  /** When the run finished (kill, failure or success), ms since the epoch. */
  finishedAt: number;
  /** False when Restate no longer keeps the run's journal (journal retention ended, or set to zero). */
  journalKept: boolean;
  sleeps: JournalSleep[];
};

export type TimerVerdict =
  | { kind: "quiet" }
  /** A timer of these runs may fire until `until` (ms since the epoch); retry a second later. */
  | { kind: "pending"; until: number; retryAfterSeconds: number; invocationIds: string[] };

export type TimerVerdictOptions = {
  /** Time allowed between a timer's wake-up and its delivery. */
  marginMs: number;
  /** How long after finishing a run without a journal is still treated as possibly sleeping. */
  unseenHorizonMs: number;
};

/** Timers fire within milliseconds of their wake-up; five seconds leave room for a busy partition. */
export const TIMER_DELIVERY_MARGIN_MS = 5_000;
/** Longer than any sleep ddwf's handlers take (the longest, a custody poll or the stuck interval, is minutes). */
export const UNSEEN_TIMER_HORIZON_MS = 60 * 60_000;
export const DEFAULT_TIMER_VERDICT_OPTIONS: TimerVerdictOptions = { marginMs: TIMER_DELIVERY_MARGIN_MS, unseenHorizonMs: UNSEEN_TIMER_HORIZON_MS };

/** Decides, at `now` (the server's clock), whether any of the finished runs may still fire a timer. */
export function timerVerdict(runs: readonly FinishedRunJournal[], now: number, options: TimerVerdictOptions = DEFAULT_TIMER_VERDICT_OPTIONS): TimerVerdict {
  let until = 0;
  const invocationIds: string[] = [];
  for (const run of runs) {
    const dueAt = run.journalKept ? latestUncompletedWakeUp(run.sleeps) : run.finishedAt + options.unseenHorizonMs;
    if (dueAt === null) continue;
    const quietAt = dueAt + options.marginMs;
    if (quietAt <= now) continue;
    until = Math.max(until, quietAt);
    invocationIds.push(run.invocationId);
  }
  if (invocationIds.length === 0) return { kind: "quiet" };
  return { kind: "pending", until, retryAfterSeconds: Math.max(1, Math.ceil((until - now) / 1_000)), invocationIds };
}

function latestUncompletedWakeUp(sleeps: readonly JournalSleep[]): number | null {
  const completed = new Set(sleeps.filter((sleep) => sleep.kind === "sleep-completed").map((sleep) => sleep.completionId));
  let latest: number | null = null;
  for (const sleep of sleeps) {
    if (sleep.kind !== "sleep" || completed.has(sleep.completionId)) continue;
    latest = latest === null ? sleep.wakeUpAt : Math.max(latest, sleep.wakeUpAt);
  }
  return latest;
}

/** One `sys_journal` row as the admin API answers it in JSON (null columns left out). */
export type JournalRow = { id: string; index: number | string; entry_type: string; entry_lite_json?: string; sleep_wakeup_at?: string; completed?: boolean };

/** Journal v2 command and notification entry types of a sleep (service protocol 4 and later). */
const SLEEP_COMMAND = "Command: Sleep";
const SLEEP_NOTIFICATION = "Notification: Sleep";
/** Journal v1 (service protocol 3 and earlier): one entry, completed in place. */
const SLEEP_V1 = "Sleep";

/**
 * Reads a sleep out of a journal row. An entry it cannot read is a sleep due at `Infinity` (never
 * quiet): a format this code does not know must not be taken for "no timer".
 */
export function sleepOfJournalRow(row: JournalRow): JournalSleep | null {
  if (row.entry_type === SLEEP_V1) {
    const wakeUpAt = row.sleep_wakeup_at ? parseServerTimestamp(row.sleep_wakeup_at) : Number.NaN;
    if (row.completed) return null;
    return { kind: "sleep", completionId: -Number(row.index), wakeUpAt: Number.isNaN(wakeUpAt) ? Number.POSITIVE_INFINITY : wakeUpAt };
  }
  if (row.entry_type !== SLEEP_COMMAND && row.entry_type !== SLEEP_NOTIFICATION) return null;
  const entry = parseJson(row.entry_lite_json);
  if (row.entry_type === SLEEP_COMMAND) {
    const sleep = (entry as { Command?: { Sleep?: { wake_up_time?: unknown; completion_id?: unknown } } } | null)?.Command?.Sleep;
    if (typeof sleep?.completion_id === "number" && typeof sleep.wake_up_time === "number") {
      return { kind: "sleep", completionId: sleep.completion_id, wakeUpAt: sleep.wake_up_time };
    }
    return { kind: "sleep", completionId: -1 - Number(row.index), wakeUpAt: Number.POSITIVE_INFINITY };
  }
  const completionId = (entry as { Notification?: { id?: { CompletionId?: unknown } } } | null)?.Notification?.id?.CompletionId;
  return typeof completionId === "number" ? { kind: "sleep-completed", completionId } : null;
}

/** Restate answers timestamps in UTC without a zone designator ("2026-11-29T11:49:14.292876126"). */
export function parseServerTimestamp(text: string): number {
  return Date.parse(/(Z|[+-]\d\d:?\d\d)$/.test(text) ? text : `${text}Z`);
}

function parseJson(text: string | undefined): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

const quote = (value: string) => `'${value.replaceAll("'", "''")}'`;

/**
 * Reads what `timerVerdict` needs of finished runs from the admin API: their sleeps (and whether
 * their journal is still kept: its first entry, the input, is there), plus the server's clock,
 * which is the clock Restate fires timers by.
 */
export async function readFinishedRunJournals(
  admin: RestateAdminClient,
  runs: readonly { invocationId: string; finishedAt: number }[],
): Promise<{ now: number; runs: FinishedRunJournal[] }> {
  // No run, no timer: any clock gives the same verdict.
  if (runs.length === 0) return { now: Date.now(), runs: [] };
  const [clock] = await admin.query<{ now: string }>("SELECT now() AS now");
  const now = clock ? parseServerTimestamp(clock.now) : Number.NaN;
  if (Number.isNaN(now)) throw new Error(`the admin API answered no usable clock: ${JSON.stringify(clock)}`);
  const rows = await admin.query<JournalRow>(
    `SELECT id, index, entry_type, entry_lite_json, sleep_wakeup_at, completed FROM sys_journal
     WHERE id IN (${runs.map((run) => quote(run.invocationId)).join(", ")})
       AND (index = 0 OR entry_type IN (${[SLEEP_COMMAND, SLEEP_NOTIFICATION, SLEEP_V1].map(quote).join(", ")}))`,
  );
  return {
    now,
    runs: runs.map((run) => {
      const own = rows.filter((row) => row.id === run.invocationId);
      return {
        ...run,
        journalKept: own.length > 0,
        sleeps: own.map(sleepOfJournalRow).filter((sleep): sleep is JournalSleep => sleep !== null),
      };
    }),
  };
}
