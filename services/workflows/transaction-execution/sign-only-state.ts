/**
 * Where a sign-only transaction's approval wait stands, as a pure function of the signer's policy,
 * the decisions counted so far and the time: the M-th approval releases the signing, a rejection by
 * any approver ends it, and the policy's expiry ends it when neither came first. The approval object
 * it answers is what the status, the record and the phase events carry.
 */
import type { TransactionApproval } from "../../../shared/signers/approval.ts";
import type { SignOnlyPolicy } from "../../../shared/signers/sign-only-policy.ts";
import type { ApprovalSignal } from "./types.ts";

export type QuorumWait = {
  policy: Pick<SignOnlyPolicy, "approvers" | "threshold">;
  /** Decisions counted so far, in the order they came. */
  decisions: readonly ApprovalSignal[];
  requestedAt: string;
  expiresAt: string;
  now: number;
};

export type QuorumOutcome =
  | { kind: "waiting"; approval: TransactionApproval; pending: string[] }
  | { kind: "approved"; approval: TransactionApproval }
  | { kind: "rejected"; approval: TransactionApproval; by: string }
  | { kind: "expired"; approval: TransactionApproval };

export function quorumOutcome(wait: QuorumWait): QuorumOutcome {
  const { policy, decisions } = wait;
  const counted = decisions.filter((signal) => policy.approvers.includes(signal.approver));
  const given = counted.filter((signal) => signal.decision === "approve").map(({ approver, at }) => ({ approver, at }));
  const rejection = counted.find((signal) => signal.decision === "reject");
  const base = {
    route: "sign-only" as const,
    requestedAt: wait.requestedAt,
    expiresAt: wait.expiresAt,
    provider: null,
  };
  const quorum = { needed: policy.threshold, given, approvers: [...policy.approvers], rejectedBy: rejection ? { approver: rejection.approver, at: rejection.at } : null };
  if (rejection) return { kind: "rejected", by: rejection.approver, approval: { ...base, state: "rejected", decidedAt: rejection.at, quorum } };
  if (given.length >= policy.threshold) {
    return { kind: "approved", approval: { ...base, state: "approved", decidedAt: given[policy.threshold - 1]!.at, quorum } };
  }
  if (wait.now >= Date.parse(wait.expiresAt)) return { kind: "expired", approval: { ...base, state: "expired", decidedAt: wait.expiresAt, quorum } };
  const decided = new Set(counted.map((signal) => signal.approver));
  return { kind: "waiting", pending: policy.approvers.filter((approver) => !decided.has(approver)), approval: { ...base, state: "pending", decidedAt: null, quorum } };
}

/** When a wait that began at `requestedAt` expires under `expiresAfterMs`. */
export function expiryOf(requestedAt: string, expiresAfterMs: number): string {
  return new Date(Date.parse(requestedAt) + expiresAfterMs).toISOString();
}

/** A pending approval ended by a cancellation (unchanged when it was not pending). */
export function cancelledApproval(approval: TransactionApproval | null | undefined, at: string): TransactionApproval | undefined {
  if (!approval || approval.state !== "pending") return undefined;
  return { ...approval, state: "cancelled", decidedAt: at };
}
