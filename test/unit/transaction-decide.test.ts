import type { Hex } from "viem";
import { describe, expect, it } from "vitest";
import {
  afterRebroadcast,
  highestSignedFees,
  namesOurSignature,
  nextAction,
  startOf,
  type Observation,
  type Watch,
} from "../../services/workflows/transaction-execution/decide.ts";
import { blockThatUsedNonce } from "../../services/workflows/transaction-execution/chain-observation.ts";
import { bumpFees, capFees, feesForNextBlock, highestFees } from "../../services/transaction-processor/fees.ts";
import type { Signature } from "../../services/transaction-processor/types.ts";

const hash = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Hex;
const signature = (n: number, kind: Signature["kind"] = "original", maxFeePerGas = "100", maxPriorityFeePerGas = "10"): Signature => ({
  hash: hash(n),
  raw: "0x02",
  maxFeePerGas,
  maxPriorityFeePerGas,
  kind,
});
const watch = (change: Partial<Watch> = {}): Watch => ({
  nonce: 5,
  signatures: [signature(1)],
  phase: "confirming",
  blockedCode: null,
  cancelRequested: false,
  lastSentAt: 1_000,
  lastReplacementAt: 0,
  ...change,
});
const settings = { confirmations: 2, stuckAfterMs: 10_000 };
/** One kind of observation without the fields every kind shares (distributed over the union). */
type ObservationBody = Observation extends infer O ? (O extends Observation ? Omit<O, "head" | "latestNonce"> : never) : never;
const seen = (observation: ObservationBody & { latestNonce?: number }): Observation =>
  ({ head: 100, latestNonce: 5, ...observation }) as Observation;

describe("where a run of a transaction key starts", () => {
  it("reports a record that completed or failed, whatever was signed", () => {
    expect(startOf({ phase: "completed" }, [{ nonce: 3 }])).toEqual({ kind: "report" });
    expect(startOf({ phase: "failed" }, [])).toEqual({ kind: "report" });
  });

  it("resumes on the nonce of the latest live signature when one exists", () => {
    expect(startOf({ phase: "confirming" }, [{ nonce: 3 }, { nonce: 7 }])).toEqual({ kind: "resume", nonce: 7 });
    expect(startOf({ phase: "dead-letter" }, [{ nonce: 2 }])).toEqual({ kind: "resume", nonce: 2 });
  });

  it("starts from the beginning when nothing live was signed", () => {
    expect(startOf({ phase: "submitting" }, [])).toEqual({ kind: "start" });
    expect(startOf({ phase: "dead-letter" }, [])).toEqual({ kind: "start" });
  });
});

describe("the next action of a watched nonce", () => {
  it("waits for a mined transaction until it is deep enough", () => {
    expect(nextAction(watch(), seen({ kind: "mined", hash: hash(1), blockNumber: 100, blockHash: hash(9), reverted: false, confirmations: 1 }), 2_000, settings)).toEqual({ kind: "wait" });
  });

  it("settles the call when one of its signatures is mined at depth", () => {
    const action = nextAction(watch(), seen({ kind: "mined", hash: hash(1), blockNumber: 99, blockHash: hash(9), reverted: false, confirmations: 2 }), 2_000, settings);
    expect(action).toEqual({ kind: "settle-mined", hash: hash(1), blockNumber: 99, blockHash: hash(9), reverted: false, ours: "call" });
  });

  it("tells a mined cancellation apart from the call", () => {
    const current = watch({ signatures: [signature(1), signature(2, "cancellation")], cancelRequested: true });
    const action = nextAction(current, seen({ kind: "mined", hash: hash(2), blockNumber: 99, blockHash: hash(9), reverted: false, confirmations: 3 }), 2_000, settings);
    expect(action).toMatchObject({ kind: "settle-mined", ours: "cancellation" });
  });

  it("signs the call again at a new nonce when another transaction took the nonce at depth", () => {
    expect(nextAction(watch(), seen({ kind: "consumed", byHash: hash(7), blockNumber: 90, latestNonce: 6 }), 2_000, settings)).toEqual({
      kind: "consumed-by-other",
      byHash: hash(7),
      then: "sign-again",
    });
  });

  it("ends a cancelled transaction whose nonce another transaction took, without signing again", () => {
    expect(nextAction(watch({ cancelRequested: true }), seen({ kind: "consumed", byHash: hash(7), blockNumber: 90 }), 2_000, settings)).toMatchObject({ then: "cancelled" });
  });

  it("waits on an inconclusive view (a lagging node) instead of deciding anything", () => {
    expect(nextAction(watch(), seen({ kind: "inconclusive", why: "lagging", latestNonce: 6 }), 99_000, settings)).toEqual({ kind: "wait" });
  });

  it("sends dropped bytes again as they are", () => {
    expect(nextAction(watch(), seen({ kind: "dropped" }), 2_000, settings)).toEqual({ kind: "rebroadcast" });
  });

  it("replaces the lowest unmined nonce once it has waited the stuck interval", () => {
    expect(nextAction(watch(), seen({ kind: "pending" }), 10_999, settings)).toEqual({ kind: "wait" });
    expect(nextAction(watch(), seen({ kind: "pending" }), 11_000, settings)).toEqual({ kind: "replace" });
  });

  it("never replaces a transaction queued behind a lower unmined nonce, however long it waits", () => {
    expect(nextAction(watch(), seen({ kind: "pending", latestNonce: 3 }), 1_000_000, settings)).toEqual({ kind: "wait" });
  });

  it("sends the cancellation first when one was asked for and none is signed", () => {
    expect(nextAction(watch({ cancelRequested: true }), seen({ kind: "pending" }), 2_000, settings)).toEqual({ kind: "send-cancellation" });
    expect(nextAction(watch({ cancelRequested: true }), seen({ kind: "dropped" }), 2_000, settings)).toEqual({ kind: "send-cancellation" });
    const cancelling = watch({ cancelRequested: true, signatures: [signature(1), signature(2, "cancellation")] });
    expect(nextAction(cancelling, seen({ kind: "pending" }), 2_000, settings)).toEqual({ kind: "wait" });
  });
});

describe("after dropped bytes were sent again", () => {
  it("replaces the lowest nonce refused as underpriced, at most once per stuck interval while blocked", () => {
    expect(afterRebroadcast(watch(), { kind: "underpriced" }, 2_000, settings, true)).toEqual({ kind: "replace" });
    const blocked = watch({ phase: "blocked", blockedCode: "FEE_CAP_REACHED", lastReplacementAt: 1_000 });
    expect(afterRebroadcast(blocked, { kind: "underpriced" }, 5_000, settings, true)).toEqual({ kind: "none" });
    expect(afterRebroadcast(blocked, { kind: "underpriced" }, 11_000, settings, true)).toEqual({ kind: "replace" });
  });

  it("leaves an underpriced transaction queued behind a lower nonce alone", () => {
    expect(afterRebroadcast(watch(), { kind: "underpriced" }, 2_000, settings, false)).toEqual({ kind: "none" });
  });

  it("blocks on a lasting refusal once per code, and unblocks when the bytes are accepted", () => {
    expect(afterRebroadcast(watch(), { kind: "refused", code: "INSUFFICIENT_FUNDS", message: "no funds" }, 2_000, settings, true)).toEqual({
      kind: "block",
      code: "INSUFFICIENT_FUNDS",
      message: "no funds",
    });
    const blocked = watch({ phase: "blocked", blockedCode: "INSUFFICIENT_FUNDS" });
    expect(afterRebroadcast(blocked, { kind: "refused", code: "INSUFFICIENT_FUNDS", message: "no funds" }, 2_000, settings, true)).toEqual({ kind: "none" });
    expect(afterRebroadcast(blocked, { kind: "sent" }, 2_000, settings, true)).toEqual({ kind: "unblock" });
  });

  it("does nothing when the send itself failed or the nonce is used", () => {
    expect(afterRebroadcast(watch(), null, 2_000, settings, true)).toEqual({ kind: "none" });
    expect(afterRebroadcast(watch(), { kind: "nonce-used" }, 2_000, settings, true)).toEqual({ kind: "none" });
  });
});

describe("fee arithmetic", () => {
  it("takes the highest fee of each field over every signature of the nonce", () => {
    expect(highestSignedFees(watch({ signatures: [signature(1, "original", "100", "30"), signature(2, "replacement", "150", "20")] }))).toEqual({
      maxFeePerGas: "150",
      maxPriorityFeePerGas: "30",
    });
    expect(highestFees({ maxFeePerGas: "5", maxPriorityFeePerGas: "9" }, { maxFeePerGas: "7", maxPriorityFeePerGas: "1" })).toEqual({ maxFeePerGas: "7", maxPriorityFeePerGas: "9" });
  });

  it("bumps both fields by at least the percentage, rounding up, and at least to the current fees", () => {
    expect(bumpFees({ maxFeePerGas: "1000", maxPriorityFeePerGas: "100" }, { maxFeePerGas: "0", maxPriorityFeePerGas: "0" }, 12.5, 10_000n)).toEqual({
      maxFeePerGas: "1125",
      maxPriorityFeePerGas: "113",
    });
    expect(bumpFees({ maxFeePerGas: "1000", maxPriorityFeePerGas: "100" }, { maxFeePerGas: "5000", maxPriorityFeePerGas: "400" }, 12.5, 10_000n)).toEqual({
      maxFeePerGas: "5000",
      maxPriorityFeePerGas: "400",
    });
  });

  it("refuses a bump above the cap", () => {
    expect(bumpFees({ maxFeePerGas: "1000", maxPriorityFeePerGas: "100" }, { maxFeePerGas: "0", maxPriorityFeePerGas: "0" }, 12.5, 1_100n)).toBeNull();
  });

  it("raises an estimate read from the latest block to what the pending block's base fee needs", () => {
    expect(feesForNextBlock({ maxFeePerGas: 2_200n, maxPriorityFeePerGas: 1_000n }, 40_000n)).toEqual({ maxFeePerGas: "81000", maxPriorityFeePerGas: "1000" });
    expect(feesForNextBlock({ maxFeePerGas: 90_000n, maxPriorityFeePerGas: 1_000n }, 40_000n)).toEqual({ maxFeePerGas: "90000", maxPriorityFeePerGas: "1000" });
    expect(feesForNextBlock({ maxFeePerGas: 2_200n, maxPriorityFeePerGas: 1_000n }, null)).toEqual({ maxFeePerGas: "2200", maxPriorityFeePerGas: "1000" });
  });

  it("caps fees, lowering the tip with the fee", () => {
    expect(capFees({ maxFeePerGas: "900", maxPriorityFeePerGas: "800" }, 500n)).toEqual({ maxFeePerGas: "500", maxPriorityFeePerGas: "500" });
  });
});

describe("finding the block that used a nonce", () => {
  /** A sender whose nonce count grows by one at each listed block. */
  const countsAt = (blocks: number[]) => async (block: number) => blocks.filter((b) => b <= block).length;

  it("finds the block by its nonce count, searching back from the depth block", async () => {
    const countAt = countsAt([3, 10, 11, 40]);
    expect(await blockThatUsedNonce(countAt, 0, 50)).toBe(3);
    expect(await blockThatUsedNonce(countAt, 2, 50)).toBe(11);
    expect(await blockThatUsedNonce(countAt, 3, 50)).toBe(40);
  });

  it("reads few blocks when the nonce was used just before the depth block", async () => {
    let reads = 0;
    const counting = async (block: number) => {
      reads += 1;
      return countsAt([999_998])(block);
    };
    expect(await blockThatUsedNonce(counting, 0, 1_000_000)).toBe(999_998);
    expect(reads).toBeLessThan(8);
  });
});

describe("a mined wake-up", () => {
  it("counts when it names one of the run's signatures, a replacement included", () => {
    expect(namesOurSignature(watch({ signatures: [signature(1), signature(2, "replacement")] }), { hash: hash(2) })).toBe(true);
  });

  it("is ignored when it names a hash the run did not sign (an earlier run's late awakeable)", () => {
    expect(namesOurSignature(watch({ signatures: [signature(1)] }), { hash: hash(9) })).toBe(false);
  });
});
