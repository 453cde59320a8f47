/**
 * Where a smart-wallet transaction's owner approvals stand, as a pure function of the account's
 * owners and threshold and the decisions counted so far: the M-th approval releases submission;
 * the wait ends `rejected` once so many owners rejected that M approvals can no longer come. There
 * is no expiry: the signed operation stays valid until it is sent (validUntil 0).
 */
import type { TransactionApproval } from "../../../shared/signers/approval.ts";
import type { ApprovalSignal } from "./types.ts";

export type OwnerQuorum = {
  /** Lower case. */
  owners: readonly string[];
  threshold: number;
  decisions: readonly ApprovalSignal[];
  requestedAt: string;
  userOperation: NonNullable<TransactionApproval["userOperation"]>;
};

export type OwnerQuorumOutcome =
  | { kind: "waiting"; approval: TransactionApproval; pending: string[] }
  | { kind: "approved"; approval: TransactionApproval; approvers: string[] }
  | { kind: "rejected"; approval: TransactionApproval; by: string[] };

export function ownerQuorumOutcome(wait: OwnerQuorum): OwnerQuorumOutcome {
  const counted = wait.decisions.filter((signal) => wait.owners.includes(signal.approver));
  const approvals = counted.filter((signal) => signal.decision === "approve");
  const rejections = counted.filter((signal) => signal.decision === "reject");
  const given = approvals.map(({ approver, at }) => ({ approver, at }));
  const lastRejection = rejections.at(-1);
  const base = { route: "smart-wallet" as const, requestedAt: wait.requestedAt, expiresAt: null, provider: null, userOperation: wait.userOperation };
  const quorum = {
    needed: wait.threshold,
    given,
    approvers: [...wait.owners],
    rejectedBy: lastRejection ? { approver: lastRejection.approver, at: lastRejection.at } : null,
  };
  if (approvals.length >= wait.threshold) {
    const released = approvals.slice(0, wait.threshold);
    return { kind: "approved", approvers: released.map((signal) => signal.approver), approval: { ...base, state: "approved", decidedAt: released.at(-1)!.at, quorum } };
  }
  if (wait.owners.length - rejections.length < wait.threshold) {
    return { kind: "rejected", by: rejections.map((signal) => signal.approver), approval: { ...base, state: "rejected", decidedAt: lastRejection!.at, quorum } };
  }
  const decided = new Set(counted.map((signal) => signal.approver));
  return { kind: "waiting", pending: wait.owners.filter((owner) => !decided.has(owner)), approval: { ...base, state: "pending", decidedAt: null, quorum } };
}
