/** The shapes callers see of an asset issuance: its stages, steps, status and webhook events. */
import type { Hex } from "viem";
import type { SagaOutcome } from "../../../shared/restate/saga.ts";

export const ISSUANCE_STAGES = [
  /** Before the workflow has run (or for an id never submitted). */
  "submitted",
  "checking-eligibility",
  "deploying",
  "configuring-compliance",
  "minting",
  "registering",
  "compensating",
  "completed",
  /** Ended before anything was deployed (an ineligible investor, a refused deployment). */
  "failed",
  /** A step after deployment failed; the token was paused and everyone notified. */
  "failed-compensated",
  /** A step after deployment failed and the pause failed too; a dead letter tells an operator what is left. */
  "failed-needs-operator",
] as const;
export type IssuanceStage = (typeof ISSUANCE_STAGES)[number];
export const FINAL_ISSUANCE_STAGES: readonly IssuanceStage[] = ["completed", "failed", "failed-compensated", "failed-needs-operator"];

export type IssuanceError = { code: string; message: string };

/** One chain write of the issuance (`deploy`, `compliance`, `mint-<i>`, `register`, `pause`): a child transaction. */
export type IssuanceStep = {
  step: string;
  transactionId: string;
  outcome: "running" | "completed" | "failed";
  txHash: Hex | null;
  error: IssuanceError | null;
};

export type IssuanceStatus = {
  issuanceId: string;
  stage: IssuanceStage;
  tokenAddress: Hex | null;
  complianceAddress: Hex | null;
  steps: IssuanceStep[];
  compensation: SagaOutcome | null;
  error: IssuanceError | null;
};

/** Eligibility of one investor as the identity registry reports it. */
export type InvestorReading = { investor: Hex; verified: boolean; country: number };
export type IneligibleInvestor = { investor: Hex; reason: "not-verified" | "jurisdiction-not-allowed"; country: number };

/**
 * Webhook event types: one per stage entered, and on the way out a notice to each investor and
 * one to the issuer (`outcome`: `issued`, `compensated`, `needs-operator`).
 */
export const ISSUANCE_EVENT_TYPES = [
  ...ISSUANCE_STAGES.filter((stage) => stage !== "submitted").map((stage) => `asset-issuance.${stage}` as const),
  "asset-issuance.investor-notice",
  "asset-issuance.issuer-notice",
] as const;
export type NoticeOutcome = "issued" | "compensated" | "needs-operator";
