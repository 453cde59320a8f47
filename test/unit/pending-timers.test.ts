import { describe, expect, it } from "vitest";
import { parseServerTimestamp, sleepOfJournalRow, timerVerdict, type FinishedRunJournal } from "../../shared/restate/pending-timers.ts";

const NOW = Date.parse("2026-01-01T12:00:00Z");
const options = { marginMs: 5_000, unseenHorizonMs: 3_600_000 };
const run = (overrides: Partial<FinishedRunJournal> = {}): FinishedRunJournal => ({
  invocationId: "inv_1",
  finishedAt: NOW - 1_000,
  journalKept: true,
  sleeps: [],
  ...overrides,
});

describe("timerVerdict", () => {
  it("is quiet for a run that never slept", () => {
    expect(timerVerdict([run()], NOW, options)).toEqual({ kind: "quiet" });
  });

  it("waits for a sleep that has not come due, plus the delivery margin, and says when to retry", () => {
    const verdict = timerVerdict([run({ sleeps: [{ kind: "sleep", completionId: 6, wakeUpAt: NOW + 10_000 }] })], NOW, options);
    expect(verdict).toEqual({ kind: "pending", until: NOW + 15_000, retryAfterSeconds: 15, invocationIds: ["inv_1"] });
  });

  it("still waits within the margin after the wake-up, and is quiet after it", () => {
    const sleeps = [{ kind: "sleep" as const, completionId: 6, wakeUpAt: NOW - 4_000 }];
    expect(timerVerdict([run({ sleeps })], NOW, options)).toMatchObject({ kind: "pending", retryAfterSeconds: 1 });
    expect(timerVerdict([run({ sleeps })], NOW + 1_000, options)).toEqual({ kind: "quiet" });
  });

  it("ignores a sleep whose completion is journaled: its timer has fired", () => {
    const sleeps = [
      { kind: "sleep" as const, completionId: 3, wakeUpAt: NOW + 60_000 },
      { kind: "sleep-completed" as const, completionId: 3 },
    ];
    expect(timerVerdict([run({ sleeps })], NOW, options)).toEqual({ kind: "quiet" });
  });

  it("waits for the latest pending sleep across every run", () => {
    const verdict = timerVerdict(
      [
        run({ invocationId: "inv_a", sleeps: [{ kind: "sleep", completionId: 1, wakeUpAt: NOW + 2_000 }, { kind: "sleep", completionId: 2, wakeUpAt: NOW + 30_000 }] }),
        run({ invocationId: "inv_b", sleeps: [{ kind: "sleep", completionId: 9, wakeUpAt: NOW - 60_000 }] }),
        run({ invocationId: "inv_c", sleeps: [{ kind: "sleep", completionId: 4, wakeUpAt: NOW + 1_000 }] }),
      ],
      NOW,
      options,
    );
    expect(verdict).toEqual({ kind: "pending", until: NOW + 35_000, retryAfterSeconds: 35, invocationIds: ["inv_a", "inv_c"] });
  });

  it("treats a run whose journal is gone as possibly sleeping until the horizon after it finished", () => {
    expect(timerVerdict([run({ journalKept: false, finishedAt: NOW - 60_000 })], NOW, options)).toMatchObject({
      kind: "pending",
      until: NOW - 60_000 + 3_600_000 + 5_000,
    });
    expect(timerVerdict([run({ journalKept: false, finishedAt: NOW - 3_700_000 })], NOW, options)).toEqual({ kind: "quiet" });
  });
});

describe("sleepOfJournalRow", () => {
  it("reads a v2 sleep command and its completion", () => {
    expect(
      sleepOfJournalRow({
        id: "inv_1",
        index: 12,
        entry_type: "Command: Sleep",
        entry_lite_json: '{"Command":{"Sleep":{"wake_up_time":1795952685296,"completion_id":6}}}',
      }),
    ).toEqual({ kind: "sleep", completionId: 6, wakeUpAt: 1795952685296 });
    expect(
      sleepOfJournalRow({
        id: "inv_1",
        index: 14,
        entry_type: "Notification: Sleep",
        entry_lite_json: '{"Notification":{"ty":{"Completion":"Sleep"},"id":{"CompletionId":6},"result":"Void"}}',
      }),
    ).toEqual({ kind: "sleep-completed", completionId: 6 });
  });

  it("takes a sleep command it cannot read for one that never comes due", () => {
    expect(sleepOfJournalRow({ id: "inv_1", index: 3, entry_type: "Command: Sleep", entry_lite_json: '{"Command":{"Sleep":{}}}' })).toMatchObject({
      kind: "sleep",
      wakeUpAt: Number.POSITIVE_INFINITY,
    });
  });

  it("reads a v1 sleep entry, which completes in place", () => {
    expect(sleepOfJournalRow({ id: "inv_1", index: 4, entry_type: "Sleep", sleep_wakeup_at: "2026-01-01T12:00:10", completed: false })).toMatchObject({
      kind: "sleep",
      wakeUpAt: NOW + 10_000,
    });
    expect(sleepOfJournalRow({ id: "inv_1", index: 4, entry_type: "Sleep", sleep_wakeup_at: "2026-01-01T12:00:10", completed: true })).toBeNull();
  });

  it("ignores every other entry", () => {
    expect(sleepOfJournalRow({ id: "inv_1", index: 0, entry_type: "Command: Input", entry_lite_json: '{"Command":{"Input":{}}}' })).toBeNull();
  });
});

describe("parseServerTimestamp", () => {
  it("reads Restate's zone-less timestamps as UTC", () => {
    expect(parseServerTimestamp("2026-01-01T12:00:00.123456789")).toBe(NOW + 123);
    expect(parseServerTimestamp("2026-01-01T12:00:00Z")).toBe(NOW);
  });
});
