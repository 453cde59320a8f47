import { describe, expect, it } from "vitest";
import type { Hex } from "viem";
import { custodyStage, failureCode, nextCustodyStep, nextPollDelay, phaseOfStage, type CustodyKnown } from "../../services/workflows/transaction-execution/custody-state.ts";
import { decidedOutcome, type TransactionApproval } from "../../shared/signers/approval.ts";
import type { CustodyTransaction } from "../../shared/signers/custody/fireblocks.ts";

const HASH = `0x${"ab".repeat(32)}` as Hex;
const NOW = "2026-11-22T10:00:00.000Z";
const view = (status: string, extra: Partial<CustodyTransaction> = {}): CustodyTransaction => ({
  id: "fb-1",
  externalTxId: "tx_1",
  status,
  subStatus: null,
  txHash: null,
  rejectedBy: null,
  ...extra,
});
const pendingApproval: TransactionApproval = {
  route: "custody",
  state: "pending",
  requestedAt: "2026-11-22T09:00:00.000Z",
  decidedAt: null,
  expiresAt: null,
  provider: { name: "fireblocks", transactionId: "fb-1", status: "PENDING_AUTHORIZATION", subStatus: null },
  quorum: null,
};
const known = (phase: CustodyKnown["phase"], approval: TransactionApproval | null = null, cancelAsked = false): CustodyKnown => ({ phase, approval, cancelAsked });

describe("the provider's states as our phases", () => {
  it.each([
    ["PENDING_AUTHORIZATION", "awaiting-approval"],
    ["PENDING_3RD_PARTY_MANUAL_APPROVAL", "awaiting-approval"],
    ["SUBMITTED", "submitting"],
    ["QUEUED", "submitting"],
    ["PENDING_AML_SCREENING", "submitting"],
    ["PENDING_SIGNATURE", "submitting"],
    ["BROADCASTING", "submitting"],
    ["REJECTED", "failed"],
    ["BLOCKED", "failed"],
    ["CANCELLED", "failed"],
    ["FAILED", "failed"],
    ["TIMEOUT", "failed"],
  ])("%s without a hash is %s", (status, phase) => {
    expect(phaseOfStage(custodyStage(view(status)))).toBe(phase);
  });

  it.each(["BROADCASTING", "CONFIRMING", "COMPLETED"])("%s with a hash is confirming, carrying the hash", (status) => {
    const stage = custodyStage(view(status, { txHash: HASH }));
    expect(stage).toEqual({ kind: "broadcast", txHash: HASH });
    expect(phaseOfStage(stage)).toBe("confirming");
  });

  it("leaves a failure that names a hash to the chain (the bytes may be mined)", () => {
    expect(custodyStage(view("FAILED", { subStatus: "SMART_CONTRACT_EXECUTION_FAILED", txHash: HASH }))).toEqual({ kind: "broadcast", txHash: HASH });
  });

  it("records nothing while the provider cancels, and takes no approval from it", () => {
    expect(phaseOfStage(custodyStage(view("CANCELLING")))).toBeNull();
    expect(nextCustodyStep(known("awaiting-approval", pendingApproval, true), view("CANCELLING"), "fireblocks", NOW)).toEqual({ kind: "wait" });
  });

  it("waits on a status it does not know", () => {
    expect(phaseOfStage(custodyStage(view("SOMETHING_NEW")))).toBeNull();
  });
});

describe("the code a provider's ending carries", () => {
  it("is the sub-status when the provider gives a known one", () => {
    expect(failureCode({ status: "REJECTED", subStatus: "REJECTED_BY_USER" })).toBe("REJECTED_BY_USER");
    expect(failureCode({ status: "BLOCKED", subStatus: "BLOCKED_BY_POLICY" })).toBe("BLOCKED_BY_POLICY");
    expect(failureCode({ status: "FAILED", subStatus: "INSUFFICIENT_FUNDS" })).toBe("INSUFFICIENT_FUNDS");
  });

  it("is the primary status when the sub-status is missing or unknown", () => {
    expect(failureCode({ status: "TIMEOUT", subStatus: null })).toBe("TIMEOUT");
    expect(failureCode({ status: "FAILED", subStatus: "A_NEW_REASON" })).toBe("FAILED");
    expect(failureCode({ status: "CANCELLED", subStatus: null })).toBe("CANCELLED");
  });
});

describe("the next step of the custody route", () => {
  it("begins an approval wait when the provider waits for people", () => {
    const step = nextCustodyStep(known("submitting"), view("PENDING_AUTHORIZATION"), "fireblocks", NOW);
    expect(step).toEqual({
      kind: "enter",
      phase: "awaiting-approval",
      approval: { route: "custody", state: "pending", requestedAt: NOW, decidedAt: null, expiresAt: null, provider: pendingApproval.provider, quorum: null },
    });
  });

  it("records nothing while the provider still waits", () => {
    expect(nextCustodyStep(known("awaiting-approval", pendingApproval), view("PENDING_AUTHORIZATION"), "fireblocks", NOW)).toEqual({ kind: "wait" });
  });

  it("approves the wait when the provider moves on to signing", () => {
    const step = nextCustodyStep(known("awaiting-approval", pendingApproval), view("PENDING_SIGNATURE"), "fireblocks", NOW);
    expect(step).toMatchObject({ kind: "enter", phase: "submitting", approval: { state: "approved", decidedAt: NOW, requestedAt: pendingApproval.requestedAt } });
  });

  it("approves the wait and hands over the hash when the provider broadcast straight away", () => {
    const step = nextCustodyStep(known("awaiting-approval", pendingApproval), view("CONFIRMING", { txHash: HASH }), "fireblocks", NOW);
    expect(step).toMatchObject({ kind: "broadcast", txHash: HASH, record: true, approval: { state: "approved" } });
  });

  it("does not record confirming twice for a hash already recorded", () => {
    expect(nextCustodyStep(known("confirming"), view("CONFIRMING", { txHash: HASH }), "fireblocks", NOW)).toMatchObject({ kind: "broadcast", record: false });
  });

  it("stays submitting without a change while a provider that needs no approval signs", () => {
    expect(nextCustodyStep(known("submitting"), view("PENDING_SIGNATURE"), "fireblocks", NOW)).toEqual({ kind: "wait" });
  });

  it("ends with the provider's sub-status and a rejected approval when the provider rejects it", () => {
    const step = nextCustodyStep(known("awaiting-approval", pendingApproval), view("REJECTED", { subStatus: "REJECTED_BY_USER" }), "fireblocks", NOW);
    expect(step).toMatchObject({
      kind: "end",
      code: "REJECTED_BY_USER",
      approval: { state: "rejected", decidedAt: NOW, provider: { status: "REJECTED", subStatus: "REJECTED_BY_USER" } },
    });
    expect(step.kind === "end" && step.message).toContain("REJECTED (REJECTED_BY_USER)");
  });

  it.each([
    ["BLOCKED", "BLOCKED_BY_POLICY", "rejected"],
    ["TIMEOUT", null, "expired"],
    ["FAILED", "INSUFFICIENT_FUNDS", "failed"],
    ["CANCELLED", "CANCELLED_BY_USER", "cancelled"],
  ])("ends a pending wait %s (%s) as %s", (status, subStatus, state) => {
    const step = nextCustodyStep(known("awaiting-approval", pendingApproval), view(status, { subStatus }), "fireblocks", NOW);
    expect(step).toMatchObject({ kind: "end", approval: { state } });
  });

  it("names a cancellation ddwf asked for CANCELLED", () => {
    const step = nextCustodyStep(known("awaiting-approval", pendingApproval, true), view("CANCELLED", { subStatus: "CANCELLED_BY_USER_REQUEST" }), "fireblocks", NOW);
    expect(step).toMatchObject({ kind: "end", code: "CANCELLED", approval: { state: "cancelled" } });
  });

  it("ends without an approval when the provider failed it before any wait", () => {
    const step = nextCustodyStep(known("submitting"), view("FAILED", { subStatus: "INSUFFICIENT_FUNDS" }), "fireblocks", NOW);
    expect(step).toMatchObject({ kind: "end", code: "INSUFFICIENT_FUNDS", approval: null });
  });

  it("keeps a decided approval as it was", () => {
    const approved = { ...pendingApproval, state: "approved" as const, decidedAt: NOW };
    const step = nextCustodyStep(known("submitting", approved), view("FAILED", { subStatus: "INSUFFICIENT_FUNDS" }), "fireblocks", "2026-11-22T11:00:00.000Z");
    expect(step).toMatchObject({ kind: "end", approval: approved });
  });
});

describe("the pause between two looks at the provider", () => {
  const settings = { pollIntervalMs: 100, maxPollIntervalMs: 400 };
  it("starts at the first interval and after every change", () => {
    expect(nextPollDelay(null, false, settings)).toBe(100);
    expect(nextPollDelay(300, true, settings)).toBe(100);
  });
  it("grows while nothing changes, up to the cap", () => {
    expect(nextPollDelay(100, false, settings)).toBe(150);
    expect(nextPollDelay(300, false, settings)).toBe(400);
    expect(nextPollDelay(400, false, settings)).toBe(400);
  });
});

describe("the outcome a phase change decides (what dalp.ddwf.approvals counts)", () => {
  it("is the new state when a pending wait ends", () => {
    expect(decidedOutcome(pendingApproval, { ...pendingApproval, state: "rejected" })).toBe("rejected");
  });
  it("is nothing while still pending, without a wait, or for a wait decided before", () => {
    expect(decidedOutcome(pendingApproval, pendingApproval)).toBeNull();
    expect(decidedOutcome(null, { ...pendingApproval, state: "approved" })).toBeNull();
    expect(decidedOutcome({ ...pendingApproval, state: "approved" }, { ...pendingApproval, state: "approved" })).toBeNull();
  });
});
