/**
 * The decisions of an issuance, as pure functions of what the workflow has observed: who is
 * eligible, what the webhook notices say, and what an operator is told when compensation fails.
 */
import type { Hex } from "viem";
import type { SagaOutcome } from "../../../shared/restate/saga.ts";
import { canonicalJson } from "../../../shared/signers/executor-selection.ts";
import { stepsAfterDeployment } from "./calls.ts";
import type { IssuanceRequest } from "./request.ts";
import type { IneligibleInvestor, InvestorReading, IssuanceError, IssuanceStatus, NoticeOutcome } from "./types.ts";

/** Investors who may not receive the token: no verified identity, or a jurisdiction outside the rules. */
export function ineligibleInvestors(readings: InvestorReading[], allowedJurisdictions: number[]): IneligibleInvestor[] {
  const allowed = new Set(allowedJurisdictions);
  const refused: IneligibleInvestor[] = [];
  for (const reading of readings) {
    if (!reading.verified) refused.push({ investor: reading.investor, reason: "not-verified", country: reading.country });
    else if (!allowed.has(reading.country)) refused.push({ investor: reading.investor, reason: "jurisdiction-not-allowed", country: reading.country });
  }
  return refused;
}

export function describeIneligible(refused: IneligibleInvestor[]): string {
  const parts = refused.map((r) => (r.reason === "not-verified" ? `${r.investor} has no verified identity` : `${r.investor} is in jurisdiction ${r.country}, which the rules do not allow`));
  return `${refused.length} investor(s) not eligible: ${parts.join("; ")}`;
}

/** Whether a stored request is the one submitted now (key order and absent keys do not matter). */
export function sameRequest(stored: unknown, submitted: IssuanceRequest): boolean {
  return canonicalJson(stored) === canonicalJson(JSON.parse(JSON.stringify(submitted)));
}

export type IssuanceNotice = { type: "asset-issuance.investor-notice" | "asset-issuance.issuer-notice"; data: Record<string, unknown> };

/** One notice per investor (what was allocated, whether it was minted) and one to the issuer. */
export function noticesFor(request: IssuanceRequest, status: IssuanceStatus, outcome: NoticeOutcome): IssuanceNotice[] {
  const minted = new Set(status.steps.filter((s) => s.outcome === "completed").map((s) => s.step));
  const common = { issuanceId: status.issuanceId, outcome, tokenAddress: status.tokenAddress, error: status.error };
  return [
    ...request.allocations.map((allocation, index) => ({
      type: "asset-issuance.investor-notice" as const,
      data: { ...common, investor: allocation.investor, amount: allocation.amount, minted: minted.has(`mint-${index}`) },
    })),
    {
      type: "asset-issuance.issuer-notice" as const,
      data: { ...common, issuer: request.issuer.signerAddress, steps: status.steps, compensation: status.compensation },
    },
  ];
}

export type OperatorReport = {
  issuanceId: string;
  tokenAddress: Hex | null;
  failure: IssuanceError | null;
  /** Chain writes that are on chain. */
  done: { step: string; transactionId: string; txHash: Hex | null }[];
  /** Chain writes that failed, the failed compensation among them. */
  failed: { step: string; transactionId: string; error: IssuanceError | null }[];
  /** Issuance steps that never ran. */
  notRun: string[];
  compensation: SagaOutcome;
  /** What an operator still has to do. */
  left: string[];
};

/** The dead letter's payload when the compensation could not be completed. */
export function operatorReport(request: IssuanceRequest, status: IssuanceStatus, compensation: Extract<SagaOutcome, { kind: "needs-operator" }>): OperatorReport {
  const ran = new Set(status.steps.map((s) => s.step));
  const token = status.tokenAddress ?? "(address unknown: read it from the deploy transaction's receipt)";
  return {
    issuanceId: status.issuanceId,
    tokenAddress: status.tokenAddress,
    failure: status.error,
    done: status.steps.filter((s) => s.outcome === "completed").map((s) => ({ step: s.step, transactionId: s.transactionId, txHash: s.txHash })),
    failed: status.steps.filter((s) => s.outcome === "failed").map((s) => ({ step: s.step, transactionId: s.transactionId, error: s.error })),
    notRun: stepsAfterDeployment(request).filter((step) => !ran.has(step)),
    compensation,
    left: [
      `${compensation.failed.step}: pause token ${token} as one of its agents (it failed: ${compensation.failed.error})`,
      ...compensation.remaining.map((step) => `${step}: not attempted`),
    ],
  };
}
