/**
 * The recorder of an issuance's progress, and its chain writes:
 * - `enter(stage)`: the workflow state (what `status` answers), then one journaled step that records
 *   the stage in `asset_issuances` and stores the deliveries of its webhook events
 *   (`asset-issuance.<stage>`, plus any notices), then the sends that start those deliveries. Event
 *   ids (`evt_<issuanceId>_<n>`) follow the order of events in the run, so a replay emits nothing twice.
 * - `write(chainWrite)`: one child TransactionExecutionWorkflow with the id `<issuanceId>-<step>`,
 *   its operation the run's input (the child stores it); its progress is one entry of the status's `steps`.
 */
import * as restate from "@restatedev/restate-sdk";
import { errorCodeOf } from "../../../shared/errors.ts";
import { CORRELATION_HEADER } from "../../../shared/logger.ts";
import { runStep, type StepRetryPolicy } from "../../../shared/restate/step-retry.ts";
import type { Hex } from "viem";
import { transactionExecutionWorkflow } from "../transaction-execution/api.ts";
import type { TransactionOperation } from "../transaction-execution/operation.ts";
import { startWebhookDeliveries } from "../webhook-delivery/emit-event.ts";
import type { ChainWrite } from "./calls.ts";
import type { IssuanceNotice } from "./decisions.ts";
import type { IssuanceRequest } from "./request.ts";
import type { AssetIssuanceSteps } from "./steps.ts";
import type { IssuanceStage, IssuanceStatus, IssuanceStep } from "./types.ts";

export type IssuanceState = { status: IssuanceStatus };
export type IssuanceContext = restate.WorkflowContext<IssuanceState>;

/**
 * Database writes and the receipt read retry until they succeed: once something is on chain, giving
 * up would leave it without an outcome. A long outage ends in a paused invocation an operator sees.
 */
export const UNTIL_DONE: StepRetryPolicy = { initialRetryInterval: { milliseconds: 200 }, maxRetryInterval: { milliseconds: 5_000 }, retryIntervalFactor: 2 };

export function initialStatus(issuanceId: string): IssuanceStatus {
  return { issuanceId, stage: "submitted", tokenAddress: null, complianceAddress: null, steps: [], compensation: null, error: null };
}

export function createIssuanceProgress(ctx: IssuanceContext, request: IssuanceRequest, steps: AssetIssuanceSteps) {
  const issuanceId = ctx.key;
  let status = initialStatus(issuanceId);
  let events = 0;

  const update = (change: Partial<IssuanceStatus>): IssuanceStatus => {
    status = { ...status, ...change };
    ctx.set("status", status);
    return status;
  };
  const recordStep = (step: IssuanceStep): IssuanceStep => {
    update({ steps: [...status.steps.filter((s) => s.step !== step.step), step] });
    return step;
  };

  return {
    status: () => status,
    update,

    enter: async (stage: IssuanceStage, change: Partial<IssuanceStatus> = {}, notices: IssuanceNotice[] = []): Promise<void> => {
      const snapshot = update({ ...change, stage });
      const toEmit = [{ type: `asset-issuance.${stage}`, data: { ...snapshot } }, ...notices].map((event) => ({ ...event, id: `evt_${issuanceId}_${++events}` }));
      const deliveryIds = await runStep(ctx, `stage-${stage}`, () => steps.recordStage(issuanceId, snapshot, toEmit), UNTIL_DONE);
      startWebhookDeliveries(ctx, deliveryIds, issuanceId);
    },

    write: async (write: ChainWrite): Promise<IssuanceStep> => {
      const transactionId = `${issuanceId}-${write.step}`;
      recordStep({ step: write.step, transactionId, outcome: "running", txHash: null, error: null });
      // The child run stores the operation in its first step; its key makes the write idempotent.
      const operation: TransactionOperation = {
        transactionId,
        organizationId: request.organizationId,
        chainId: request.chainId,
        signerAddress: request.issuer.signerAddress.toLowerCase() as Hex,
        target: write.target ? (write.target.toLowerCase() as Hex) : null,
        data: write.data.toLowerCase() as Hex,
        value: "0",
        executor: request.issuer.executor,
        correlationId: issuanceId,
      };
      try {
        const done = await ctx
          .workflowClient(transactionExecutionWorkflow, transactionId)
          .run(operation, restate.rpc.opts({ headers: { [CORRELATION_HEADER]: issuanceId } }));
        return recordStep({ step: write.step, transactionId, outcome: "completed", txHash: done.txHash, error: null });
      } catch (error) {
        if (!(error instanceof restate.TerminalError)) throw error;
        recordStep({ step: write.step, transactionId, outcome: "failed", txHash: null, error: { code: errorCodeOf(error) ?? "TRANSACTION_FAILED", message: error.message } });
        throw error;
      }
    },
  };
}

export type IssuanceProgress = ReturnType<typeof createIssuanceProgress>;
