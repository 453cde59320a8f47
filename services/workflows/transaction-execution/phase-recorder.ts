/**
 * Records a transaction's phase changes for one run of its workflow. Each change is, in order: the
 * workflow's `status` state; then one journaled step that writes the transition and the status
 * record, stores the webhook deliveries of its event and counts it; then the one-way sends that
 * start those deliveries. Changes that happen together (confirming and completed, when the
 * transaction was mined at once) share one step.
 *
 * A transition is keyed by the run's id (drawn once per run) and its place in the run, so a retried
 * step writes one row while a later run of the same transaction writes rows (and events) of its
 * own. Its sequence among all the transaction's transitions names its event:
 * `evt_<transaction>_<sequence>`.
 */
import type * as restate from "@restatedev/restate-sdk";
import type { Database } from "../../../shared/db/client.ts";
import { recordTransactionEvents } from "../../../shared/db/repositories/transaction-events.ts";
import { decidedOutcome, type ApprovalOutcome, type ApprovalRoute } from "../../../shared/signers/approval.ts";
import { startWebhookDeliveries } from "../webhook-delivery/emit-event.ts";
import { TERMINAL_PHASES, type TransactionPhase, type TransactionStatus } from "./status.ts";

export type PhaseMetrics = {
  workflowCompleted(workflowType: string, outcome: "success" | "terminal_error"): void;
  transactionDuration(milliseconds: number, phase: TransactionPhase): void;
  phaseEntered(phase: TransactionPhase): void;
  /** An approval wait ended (counted by route and outcome). */
  approvalDecided?(route: ApprovalRoute, outcome: ApprovalOutcome): void;
};

type RecorderContext = Pick<restate.WorkflowContext, "run" | "set" | "workflowSendClient">;

/**
 * One phase change: the whole status after it, and what else the record keeps. `approvalDecided`
 * is set when the change ended an approval wait (the recorder compares the status before it).
 */
export type PhaseChange = { status: TransactionStatus; blockHash?: string | null; reason?: string | undefined; approvalDecided?: ApprovalOutcome | null };

export type PhaseRecorder = {
  readonly status: TransactionStatus;
  /** Publishes `status` as the workflow's state without recording a change (a run that only reports). */
  publish(status: TransactionStatus): void;
  transition(phase: TransactionPhase, change?: Partial<TransactionStatus> & { blockHash?: string | null }, reason?: string): Promise<void>;
  /** Several changes in a row, recorded in one step (their events in order). */
  transitions(changes: { phase: TransactionPhase; change?: Partial<TransactionStatus> & { blockHash?: string | null }; reason?: string }[]): Promise<void>;
};

/** The workflow type label of `dalp.ddwf.workflow.completed`. */
export const WORKFLOW_TYPE = "TransactionExecutionWorkflow";

/**
 * Writes phase changes keyed `<runId>/<step>`, `<runId>/<step + 1>`, … with their webhook
 * deliveries and counts them; answers the deliveries to start. Runs inside one journaled step.
 */
export async function recordPhaseChanges(
  db: Database,
  metrics: PhaseMetrics,
  parameters: { transactionId: string; runId: string; firstStep: number; startedAt: number; changes: PhaseChange[] },
): Promise<string[]> {
  const { deliveryIds } = await recordTransactionEvents(db, {
    transactionId: parameters.transactionId,
    changes: parameters.changes.map(({ status, blockHash, reason }, index) => ({
      key: `${parameters.runId}/${parameters.firstStep + index}`,
      phase: status.phase,
      txHash: status.txHash,
      nonce: status.nonce,
      errorCode: status.error?.code ?? null,
      errorMessage: status.error?.message ?? null,
      blockNumber: status.blockNumber ?? null,
      blockHash: blockHash ?? null,
      reason: reason ?? null,
      // Only a route with approval has one; the others leave the column as it is.
      ...(status.approval !== undefined ? { approval: status.approval } : {}),
      data: {
        transactionId: parameters.transactionId,
        phase: status.phase,
        txHash: status.txHash,
        nonce: status.nonce,
        error: status.error,
        blockNumber: status.blockNumber ?? null,
        ...(reason ? { reason } : {}),
        ...(status.approval ? { approval: status.approval } : {}),
      },
    })),
  });
  // Counted last, after everything that can fail: a retried step does not count twice.
  for (const { status, approvalDecided } of parameters.changes) {
    metrics.phaseEntered(status.phase);
    if (approvalDecided && status.approval) metrics.approvalDecided?.(status.approval.route, approvalDecided);
    // Inside the step: reading the clock here is part of the side effect, never replayed.
    // eslint-disable-next-line no-restricted-properties
    if (TERMINAL_PHASES.includes(status.phase)) metrics.transactionDuration(Date.now() - parameters.startedAt, status.phase);
    if (status.phase === "completed") metrics.workflowCompleted(WORKFLOW_TYPE, "success");
    if (status.phase === "failed" || status.phase === "dead-letter") metrics.workflowCompleted(WORKFLOW_TYPE, "terminal_error");
  }
  return deliveryIds;
}

export function createPhaseRecorder(
  ctx: RecorderContext,
  parameters: {
    db: Database;
    metrics: PhaseMetrics;
    transactionId: string;
    /** Unique per run of the key: the invocation id is not (Restate derives it from the key). */
    runId: string;
    correlationId: string | undefined;
    startedAt: number;
    initial: TransactionStatus;
    /** Changes this run recorded before the recorder (in its load step). */
    recordedBefore?: number;
  },
): PhaseRecorder {
  const { db, metrics, transactionId } = parameters;
  let status = parameters.initial;
  let step = parameters.recordedBefore ?? 0;

  const record = async (changes: { phase: TransactionPhase; change?: Partial<TransactionStatus> & { blockHash?: string | null }; reason?: string | undefined }[]) => {
    const recorded: PhaseChange[] = changes.map(({ phase, change = {}, reason }) => {
      const { blockHash, ...statusChange } = change;
      const before = status.approval;
      status = { ...status, ...statusChange, phase };
      return { status, blockHash: blockHash ?? null, reason, approvalDecided: decidedOutcome(before, status.approval) };
    });
    const firstStep = step + 1;
    step += changes.length;
    ctx.set("status", status);
    const names = changes.map((change) => change.phase).join("-");
    const deliveryIds = await ctx.run(`record-${firstStep}-${names}`, () =>
      recordPhaseChanges(db, metrics, { transactionId, runId: parameters.runId, firstStep, startedAt: parameters.startedAt, changes: recorded }),
    );
    startWebhookDeliveries(ctx, deliveryIds, parameters.correlationId);
  };

  return {
    get status() {
      return status;
    },
    publish: (next) => {
      status = next;
      ctx.set("status", status);
    },
    transition: (phase, change, reason) => record([{ phase, ...(change ? { change } : {}), ...(reason ? { reason } : {}) }]),
    transitions: (changes) => record(changes),
  };
}
