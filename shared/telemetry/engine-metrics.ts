/**
 * Instruments of the workflows themselves, under the `dalp.ddwf` meter. They are incremented
 * inside journaled steps, after the step's fallible work, so neither a replay of the journal nor a
 * retried step counts the same event again.
 *
 * Every label value known in advance starts at 0: Prometheus's `increase()` cannot see the first
 * increment of a series that appears already at 1, so without this the first dead letter of a
 * process would never fire the dead-letter alert.
 */
import type { Meter } from "@opentelemetry/api";
import { NONCE_FILL_REASONS, TRANSACTION_PHASES, type NonceFillReason, type TransactionPhase } from "../db/schema/transactions.ts";
import type { ReconciliationFinding } from "../db/schema/reconciliation-reports.ts";
import { APPROVAL_OUTCOMES, APPROVAL_ROUTES, type ApprovalOutcome, type ApprovalRoute } from "../signers/approval.ts";

/** The workflow types counted in `dalp.ddwf.workflow.completed` (every `restate.workflow` ddwf binds). */
export const WORKFLOW_TYPES = [
  "EngineCanary",
  "TransactionExecutionWorkflow",
  "IdentityRecoveryWorkflow",
  "AssetIssuanceWorkflow",
  "WebhookDeliveryWorkflow",
] as const;
export const DEAD_LETTER_KINDS = ["transaction", "identity-recovery", "asset-issuance", "webhook-delivery"] as const;
const WEBHOOK_OUTCOMES = ["delivered", "failed", "dead-letter"] as const;
const RECONCILIATION_KINDS = [
  "record-repaired",
  "workflow-redriven",
  "nonce-resynced",
  "nonce-gap",
  "nonce-filled",
  "reorged-after-completion",
  "holder-settled",
] as const satisfies readonly ReconciliationFinding["kind"][];
const REPLACEMENT_OUTCOMES = ["replaced", "refused"] as const;

export type EngineMetrics = {
  workflowCompleted(workflowType: string, outcome: "success" | "terminal_error"): void;
  phaseEntered(phase: TransactionPhase): void;
  deadLettered(kind: string): void;
  webhookDelivery(outcome: "delivered" | "failed" | "dead-letter" | "retry"): void;
  reconciliationFinding(kind: string): void;
  nonceReplacement(outcome: "replaced" | "refused"): void;
  nonceFilled(reason: NonceFillReason): void;
  transactionDuration(milliseconds: number, phase: TransactionPhase): void;
  approvalDecided(route: ApprovalRoute, outcome: ApprovalOutcome): void;
};

export function createEngineMetrics(meter: Meter): EngineMetrics {
  const completed = meter.createCounter("dalp.ddwf.workflow.completed", {
    description: "Workflow runs that reached success or a terminal error, by workflow type and outcome",
  });
  const phases = meter.createCounter("dalp.ddwf.transaction.phase.transitions", {
    description: "Transaction phase changes, by the phase entered",
  });
  const deadLetters = meter.createCounter("dalp.ddwf.dead_letters", { description: "Work sent to the dead-letter table, by kind" });
  const webhookDeliveries = meter.createCounter("dalp.ddwf.webhook.deliveries", {
    description: "Webhook deliveries that ended, by outcome (delivered, failed, dead-letter)",
  });
  const reconciliation = meter.createCounter("dalp.ddwf.reconciliation.findings", {
    description: "Drift repaired by reconciliation rounds, by kind",
  });
  const fills = meter.createCounter("dalp.ddwf.nonce.fills", {
    description: "Zero-value self-transfers sent to fill a nonce, by reason (cancelled, run-ended, orphaned)",
  });
  const replacements = meter.createCounter("dalp.ddwf.nonce.replacements", {
    description: "Fee replacements of stuck transactions sent to the node, by outcome (replaced, refused)",
  });
  const approvals = meter.createCounter("dalp.ddwf.approvals", {
    description: "Approval waits that ended, by signer route and outcome (approved, rejected, expired, cancelled, failed)",
  });
  const duration = meter.createHistogram("dalp.ddwf.transaction.duration_ms", {
    description: "Time from a transaction workflow's start to its terminal phase",
    unit: "ms",
    advice: { explicitBucketBoundaries: [250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000] },
  });
  for (const workflowType of WORKFLOW_TYPES) {
    for (const outcome of ["success", "terminal_error"] as const) completed.add(0, { workflow_type: workflowType, outcome });
  }
  for (const phase of TRANSACTION_PHASES) phases.add(0, { phase });
  for (const kind of DEAD_LETTER_KINDS) deadLetters.add(0, { kind });
  for (const outcome of WEBHOOK_OUTCOMES) webhookDeliveries.add(0, { outcome });
  for (const kind of RECONCILIATION_KINDS) reconciliation.add(0, { kind });
  for (const outcome of REPLACEMENT_OUTCOMES) replacements.add(0, { outcome });
  for (const reason of NONCE_FILL_REASONS) fills.add(0, { reason });
  for (const route of APPROVAL_ROUTES) {
    for (const outcome of APPROVAL_OUTCOMES) approvals.add(0, { route, outcome });
  }
  return {
    approvalDecided: (route, outcome) => approvals.add(1, { route, outcome }),
    transactionDuration: (milliseconds, phase) => duration.record(milliseconds, { phase }),
    nonceReplacement: (outcome) => replacements.add(1, { outcome }),
    nonceFilled: (reason) => fills.add(1, { reason }),
    reconciliationFinding: (kind) => reconciliation.add(1, { kind }),
    workflowCompleted: (workflowType, outcome) => completed.add(1, { workflow_type: workflowType, outcome }),
    phaseEntered: (phase) => phases.add(1, { phase }),
    deadLettered: (kind) => deadLetters.add(1, { kind }),
    webhookDelivery: (outcome) => webhookDeliveries.add(1, { outcome }),
  };
}
