/** What callers may know of IdentityRecoveryWorkflow: its name, requests, status and the signed message. */
import type { Hex } from "viem";
import type { SagaOutcome } from "../../../shared/restate/saga.ts";
import type { IdentityRecoveryWorkflow } from "./workflow.ts";

export type IdentityRecoveryWorkflowApi = IdentityRecoveryWorkflow;

export const RECOVERY_STAGES = [
  "waiting-for-acceptance",
  "recovering-identity",
  "moving-balances",
  "completed",
  "expired",
  "cancelled",
  "failed-compensated",
  "failed-needs-operator",
] as const;
export type RecoveryStage = (typeof RECOVERY_STAGES)[number];

export type RecoveryStep = {
  step: string;
  transactionId: string | null;
  outcome: "running" | "completed" | "failed" | "skipped";
  txHash: Hex | null;
  error: { code: string; message: string } | null;
};

export type RecoveryStatus = {
  invitationId: string;
  stage: RecoveryStage;
  newWallet: Hex | null;
  steps: RecoveryStep[];
  compensation: SagaOutcome | null;
  error: { code: string; message: string } | null;
};

export type AcceptRequest = { newWallet: Hex; signature: Hex };
export type CancelRequest = { reason: string };
export type RecoveryDecision = { kind: "accepted"; newWallet: Hex } | { kind: "cancelled"; reason: string } | { kind: "expired" };

/** The message the new wallet signs (EIP-191) to prove it is controlled by the investor. */
export function acceptanceMessage(invitationId: string, newWallet: string): string {
  return `ddwf identity recovery\ninvitation: ${invitationId}\nnew wallet: ${newWallet.toLowerCase()}`;
}
