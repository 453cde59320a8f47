/**
 * Records a transaction's phase changes for one run of its workflow. Each change is, in order: the
 * workflow's `status` state; then one journaled step that writes the transition and the status
 * record, stores the webhook deliveries of its event and counts it; then the one-way sends that
 * start those deliveries.
 *
 * A transition is keyed by the run's id (drawn once per run) and its place in the run, so a retried
 * step writes one row while a later run of the same transaction writes rows (and events) of its
 * own. Its sequence among all the transaction's transitions names its event:
 * `evt_<transaction>_<sequence>`.
 */
import type * as restate from "@restatedev/restate-sdk";
import type { Database } from "../../../shared/db/client.ts";
import { recordTransactionPhase } from "../../../shared/db/repositories/transactions.ts";
import { startWebhookDeliveries, storeWebhookDeliveries } from "../webhook-delivery/emit-event.ts";
import { TERMINAL_PHASES, type TransactionPhase, type TransactionStatus } from "./status.ts";

export type PhaseMetrics = {
  workflowCompleted(workflowType: string, outcome: "success" | "terminal_error"): void;
  transactionDuration(milliseconds: number, phase: TransactionPhase): void;
  phaseEntered(phase: TransactionPhase): void;
};

type RecorderContext = Pick<restate.WorkflowContext, "run" | "set" | "workflowSendClient">;

export type PhaseRecorder = {
  readonly status: TransactionStatus;
  /** Publishes `status` as the workflow's state without recording a change (a run that only reports). */
  publish(status: TransactionStatus): void;
  transition(phase: TransactionPhase, change?: Partial<TransactionStatus> & { blockHash?: string | null }, reason?: string): Promise<void>;
};

/** The workflow type label of `dalp.ddwf.workflow.completed`. */
export const WORKFLOW_TYPE = "TransactionExecutionWorkflow";

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
  },
): PhaseRecorder {
  const { db, metrics, transactionId } = parameters;
  let status = parameters.initial;
  let step = 0;
  return {
    get status() {
      return status;
    },
    publish: (next) => {
      status = next;
      ctx.set("status", status);
    },
    transition: async (phase, change = {}, reason) => {
      const { blockHash, ...statusChange } = change;
      status = { ...status, ...statusChange, phase };
      step += 1;
      ctx.set("status", status);
      const snapshot = status;
      const key = `${parameters.runId}/${step}`;
      const deliveryIds = await ctx.run(`record-${step}-${phase}`, async () => {
        const { sequence } = await recordTransactionPhase(db, {
          transactionId,
          key,
          phase,
          txHash: snapshot.txHash,
          nonce: snapshot.nonce,
          errorCode: snapshot.error?.code,
          errorMessage: snapshot.error?.message,
          blockNumber: snapshot.blockNumber,
          blockHash: blockHash ?? null,
          reason: reason ?? null,
          at: new Date(),
        });
        const deliveries = await storeWebhookDeliveries(db, {
          id: `evt_${transactionId}_${sequence}`,
          type: `transaction.${phase}`,
          data: {
            transactionId,
            phase,
            txHash: snapshot.txHash,
            nonce: snapshot.nonce,
            error: snapshot.error,
            blockNumber: snapshot.blockNumber ?? null,
            ...(reason ? { reason } : {}),
          },
        });
        // Counted last, after everything that can fail: a retried step does not count twice.
        metrics.phaseEntered(phase);
        // Inside the step: reading the clock here is part of the side effect, never replayed.
        // eslint-disable-next-line no-restricted-properties
        if (TERMINAL_PHASES.includes(phase)) metrics.transactionDuration(Date.now() - parameters.startedAt, phase);
        if (phase === "completed") metrics.workflowCompleted(WORKFLOW_TYPE, "success");
        if (phase === "failed" || phase === "dead-letter") metrics.workflowCompleted(WORKFLOW_TYPE, "terminal_error");
        return deliveries;
      });
      startWebhookDeliveries(ctx, deliveryIds, parameters.correlationId);
    },
  };
}
