/**
 * What a custody provider's status means for a transaction, as pure functions: the provider's
 * states (Fireblocks' names) map to our phases, and each look at the provider transaction decides
 * the next step of the custody route. The unit tests cover every branch.
 *
 *   pending authorization (and other waits for people)  → awaiting-approval
 *   queued, screening, signing, broadcasting (no hash)   → submitting
 *   broadcast with a hash                                → confirming (then the chain decides)
 *   rejected, blocked, cancelled, failed, timeout        → failed, with the provider's sub-status
 */
import type { Hex } from "viem";
import type { ApprovalState, TransactionApproval } from "../../../shared/signers/approval.ts";
import type { CustodyTransaction } from "../../../shared/signers/custody/fireblocks.ts";
import { isCustodyFailureCode, type TransactionErrorCode } from "./errors.ts";
import type { TransactionPhase } from "./status.ts";

/** Where a provider transaction stands, in our terms. */
export type CustodyStage =
  | { kind: "queued" }
  | { kind: "awaiting-approval" }
  | { kind: "signing" }
  | { kind: "broadcast"; txHash: Hex }
  | { kind: "ended"; outcome: Exclude<ApprovalState, "pending" | "approved">; code: TransactionErrorCode }
  /** On its way to CANCELLED: nothing to record yet (an approval is not given by it). */
  | { kind: "cancelling" }
  /** A status this version does not know: wait and look again (logged). */
  | { kind: "unknown" };

const WAITING_FOR_PEOPLE = new Set(["PENDING_AUTHORIZATION", "PENDING_3RD_PARTY_MANUAL_APPROVAL", "PENDING_EMAIL_APPROVAL"]);
const QUEUED = new Set(["SUBMITTED", "QUEUED", "PENDING_AML_SCREENING", "PENDING_ENRICHMENT", "PENDING_3RD_PARTY"]);
const SIGNING = new Set(["PENDING_SIGNATURE", "BROADCASTING"]);
const ON_CHAIN = new Set(["BROADCASTING", "PENDING", "CONFIRMING", "CONFIRMED", "COMPLETED", "PARTIALLY_COMPLETED"]);
const ENDED: Record<string, Exclude<ApprovalState, "pending" | "approved">> = {
  REJECTED: "rejected",
  BLOCKED: "rejected",
  CANCELLED: "cancelled",
  TIMEOUT: "expired",
  FAILED: "failed",
};

/** The stage of a provider transaction. */
export function custodyStage(view: Pick<CustodyTransaction, "status" | "subStatus" | "txHash">): CustodyStage {
  const outcome = ENDED[view.status];
  // A failure after broadcast is for the chain to settle: the bytes may be mined (reverted, or not
  // failed at all). The watch asks the provider again when the chain does not show them.
  if (view.txHash && (ON_CHAIN.has(view.status) || outcome === "failed")) return { kind: "broadcast", txHash: view.txHash };
  if (outcome) return { kind: "ended", outcome, code: failureCode(view) };
  if (WAITING_FOR_PEOPLE.has(view.status)) return { kind: "awaiting-approval" };
  if (QUEUED.has(view.status)) return { kind: "queued" };
  if (SIGNING.has(view.status)) return { kind: "signing" };
  if (view.status === "CANCELLING") return { kind: "cancelling" };
  return { kind: "unknown" };
}

/** The provider's own reason: its sub-status when it is one we know, else its primary status. */
export function failureCode(view: Pick<CustodyTransaction, "status" | "subStatus">): TransactionErrorCode {
  if (view.subStatus && isCustodyFailureCode(view.subStatus)) return view.subStatus;
  if (view.status === "CANCELLED") return "CANCELLED";
  return isCustodyFailureCode(view.status) ? view.status : "FAILED";
}

/** Our phase for a stage (null: the stage changes nothing by itself). */
export function phaseOfStage(stage: CustodyStage): TransactionPhase | null {
  switch (stage.kind) {
    case "awaiting-approval":
      return "awaiting-approval";
    case "queued":
    case "signing":
      return "submitting";
    case "broadcast":
      return "confirming";
    case "ended":
      return "failed";
    case "cancelling":
    case "unknown":
      return null;
  }
}

/** What the custody route knows when it looks at the provider. */
export type CustodyKnown = {
  phase: TransactionPhase;
  approval: TransactionApproval | null;
  /** Whether ddwf asked the provider to cancel (then a CANCELLED provider transaction is ours: CANCELLED). */
  cancelAsked: boolean;
};

export type CustodyStep =
  /** Nothing to record; look again later. */
  | { kind: "wait"; unknownStatus?: string }
  /** Record this phase (with the approval as it now stands). */
  | { kind: "enter"; phase: "awaiting-approval" | "submitting"; approval: TransactionApproval | null }
  /** The provider broadcast it: record `confirming` with the hash (unless recorded) and watch the chain. */
  | { kind: "broadcast"; txHash: Hex; approval: TransactionApproval | null; record: boolean }
  /** The provider ended it: `failed` with the code and a message naming the provider's words. */
  | { kind: "end"; code: TransactionErrorCode; message: string; approval: TransactionApproval | null };

/**
 * The next step after one look at the provider transaction `view`, at time `now` (ISO). An
 * approval wait begins when the provider waits for people; it is approved as soon as the provider
 * moves on to signing or broadcast, and ends with the provider's outcome when it ends the
 * transaction.
 */
export function nextCustodyStep(known: CustodyKnown, view: CustodyTransaction, providerName: string, now: string): CustodyStep {
  const stage = custodyStage(view);
  const provider = { name: providerName, transactionId: view.id, status: view.status, subStatus: view.subStatus };
  const pending = known.approval?.state === "pending";
  const decided = (state: ApprovalState): TransactionApproval | null => (pending ? { ...known.approval!, state, decidedAt: now, provider } : known.approval);
  switch (stage.kind) {
    case "unknown":
      return { kind: "wait", unknownStatus: view.status };
    case "cancelling":
      return { kind: "wait" };
    case "awaiting-approval":
      if (known.phase === "awaiting-approval" && pending) return { kind: "wait" };
      return {
        kind: "enter",
        phase: "awaiting-approval",
        approval: { route: "custody", state: "pending", requestedAt: now, decidedAt: null, expiresAt: null, provider, quorum: null },
      };
    case "queued":
    case "signing":
      if (known.phase === "submitting") return { kind: "wait" };
      return { kind: "enter", phase: "submitting", approval: decided("approved") };
    case "broadcast":
      return { kind: "broadcast", txHash: stage.txHash, approval: decided("approved"), record: known.phase !== "confirming" };
    case "ended": {
      const ours = stage.outcome === "cancelled" && known.cancelAsked;
      const words = view.subStatus ? `${view.status} (${view.subStatus})` : view.status;
      return {
        kind: "end",
        code: ours ? "CANCELLED" : stage.code,
        message: ours ? `cancelled on request: the custody provider cancelled its transaction ${view.id}` : `the custody provider ended its transaction ${view.id}: ${words}`,
        approval: decided(stage.outcome),
      };
    }
  }
}

/** The next pause between two looks: back to the first interval after a change, else longer, up to the cap. */
export function nextPollDelay(previousMs: number | null, changed: boolean, settings: { pollIntervalMs: number; maxPollIntervalMs: number }): number {
  if (previousMs === null || changed) return settings.pollIntervalMs;
  return Math.min(Math.ceil(previousMs * 1.5), settings.maxPollIntervalMs);
}
