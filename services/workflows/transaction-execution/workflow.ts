/**
 * TransactionExecutionWorkflow, keyed by the transaction id: one stored operation ends on chain
 * exactly once, or in a terminal phase with the reason.
 *
 * Steps (each journaled; the database status record follows every phase change):
 *  1. load-operation          read the stored operation
 *  2. submitting              resolve the signer route (only `eoa` today; others are refused)
 *  3. prepare-call            target has code, attribution suffix, gas estimate (a revert refuses)
 *  4. TransactionProcessor    nonce, signature and broadcast under the sender's exclusive key
 *  5. confirming              check receipts at each new block (ChainMonitor wakes the workflow;
 *                             TX_RECEIPT_POLL_INTERVAL_MS is the fallback); re-broadcast dropped bytes; replace stuck ones with
 *                             bumped fees (at the fee cap: `blocked`, and keep waiting)
 *  6. wait for the indexer to reach the receipt's block; re-check the block is still canonical
 *  7. completed               (or failed with the revert reason)
 * Pre-broadcast RPC failures are retried within TX_PREBROADCAST_RETRY_BUDGET_MS, then the transaction
 * is `dead-letter` with a dead-letter row to replay. After broadcast nothing gives up: the signed
 * bytes are the transaction, and the loop keeps watching the chain through outages.
 * Compensations: none on chain (a mined transaction cannot be undone); failed phases carry the cause.
 */
import * as restate from "@restatedev/restate-sdk";
import type { Hex } from "viem";
import type { Database } from "../../../shared/db/client.ts";
import { insertDeadLetter } from "../../../shared/db/repositories/dead-letters.ts";
import { recordTransactionPhase } from "../../../shared/db/repositories/transactions.ts";
import type { ChainRegistry } from "../../../shared/evm/chain-access.ts";
import type { IndexerSource } from "../../../shared/evm/indexer-source.ts";
import { DomainTerminalError, errorCodeOf } from "../../../shared/errors.ts";
import { OUTAGE_TOLERANT_RETRY_POLICY, runStep, stepRetryPolicies, tryStep } from "../../../shared/restate/step-retry.ts";
import { startWebhookDeliveries, storeWebhookDeliveries } from "../webhook-delivery/emit-event.ts";
import { waitForNextBlock } from "../chain-monitor/object.ts";
import { CORRELATION_HEADER } from "../../../shared/logger.ts";
import { countCompletion } from "../../../shared/telemetry/count-completion.ts";
import { IMPLEMENTED_ROUTES } from "../../../shared/signers/executor-selection.ts";
import type { SignerRegistry } from "../../../shared/signers/signer-registry.ts";
import type { ReplaceRequest, ReplaceResult, SubmitRequest, SubmitResult, TransactionProcessorApi } from "../../transaction-processor/api.ts";
import { processorKey } from "../../transaction-processor/state.ts";
import { checkConfirmation, isCanonical, loadOperation, prepareCall, rebroadcast, revertReasonOf, type ConfirmationCheck } from "./steps.ts";
import { TERMINAL_PHASES, type TransactionError, type TransactionPhase, type TransactionStatus } from "./status.ts";

export type TransactionWorkflowSettings = {
  confirmations: number;
  pollIntervalMs: number;
  stuckAfterMs: number;
  preBroadcastRetryMs: number;
  attributionSuffix: Hex;
};

export type TransactionWorkflowMetrics = {
  workflowCompleted(workflowType: string, outcome: "success" | "terminal_error"): void;
  transactionDuration(milliseconds: number, phase: TransactionPhase): void;
  phaseEntered(phase: TransactionPhase): void;
  deadLettered(kind: string): void;
};

export type TransactionExecutionDependencies = {
  db: Database;
  chains: ChainRegistry;
  signers: SignerRegistry;
  indexer: IndexerSource;
  settings: TransactionWorkflowSettings;
  metrics: TransactionWorkflowMetrics;
};

export type TransactionRunInput = { correlationId?: string } | undefined;

type WorkflowState = { status: TransactionStatus; sequence: number };
type Ctx = restate.WorkflowContext<WorkflowState>;

/** The workflow type label of `dalp.ddwf.workflow.completed`. */
const WORKFLOW_TYPE = "TransactionExecutionWorkflow";


export function createTransactionExecutionWorkflow(dependencies: TransactionExecutionDependencies) {
  const { db, settings, metrics } = dependencies;
  const preBroadcastRetry = stepRetryPolicies.bounded(settings.preBroadcastRetryMs);
  const tryRun = <T>(ctx: Ctx, name: string, action: () => Promise<T>) => tryStep(ctx, name, action, stepRetryPolicies.check);

  return restate.workflow({
    name: "TransactionExecutionWorkflow",
    options: { retryPolicy: OUTAGE_TOLERANT_RETRY_POLICY },
    handlers: {
      run: async (ctx: Ctx, input: TransactionRunInput): Promise<TransactionStatus> => {
        const transactionId = ctx.key;
        let correlationId = input?.correlationId;
        const startedAt = await ctx.date.now();
        let status: TransactionStatus = { phase: "submitting", transactionId, txHash: null, nonce: null, error: null };
        let sequence = 0;

        /**
         * One phase change: workflow state, then in one journaled step the database record, the
         * metrics and the webhook deliveries of its event (`evt_<transaction>_<n>`), then the sends
         * that start those deliveries.
         */
        const transition = async (phase: TransactionPhase, change: Partial<TransactionStatus> = {}) => {
          status = { ...status, ...change, phase };
          sequence += 1;
          ctx.set("status", status);
          const snapshot = status;
          const at = sequence;
          const deliveryIds = await ctx.run(`record-${at}-${phase}`, async () => {
            await recordTransactionPhase(db, {
              transactionId,
              sequence: at,
              phase,
              txHash: snapshot.txHash ?? undefined,
              nonce: snapshot.nonce ?? undefined,
              errorCode: snapshot.error?.code,
              errorMessage: snapshot.error?.message,
              blockNumber: snapshot.blockNumber ?? undefined,
              at: new Date(),
            });
            const deliveries = await storeWebhookDeliveries(db, {
              id: `evt_${transactionId}_${at}`,
              type: `transaction.${phase}`,
              data: { transactionId, phase, txHash: snapshot.txHash, nonce: snapshot.nonce, error: snapshot.error, blockNumber: snapshot.blockNumber ?? null },
            });
            // Counted last, after everything that can fail: a retried step does not count twice.
            metrics.phaseEntered(phase);
            // Inside the step: reading the clock here is part of the side effect, never replayed.
            // eslint-disable-next-line no-restricted-properties
            if (TERMINAL_PHASES.includes(phase)) metrics.transactionDuration(Date.now() - startedAt, phase);
            if (phase === "completed") metrics.workflowCompleted(WORKFLOW_TYPE, "success");
            if (phase === "failed" || phase === "dead-letter") metrics.workflowCompleted(WORKFLOW_TYPE, "terminal_error");
            return deliveries;
          });
          startWebhookDeliveries(ctx, deliveryIds, correlationId);
        };

        const operation = await runStep(ctx, "load-operation", () => loadOperation(db, transactionId), preBroadcastRetry);
        if (!operation) {
          await countCompletion(ctx, metrics, WORKFLOW_TYPE, "terminal_error");
          throw new DomainTerminalError("TRANSACTION_NOT_FOUND", `no stored operation for transaction ${transactionId}`, { httpStatus: 404 });
        }
        // A run started without the submission's input (reconciliation, a dead-letter replay) still
        // passes the stored correlation id on to the calls and webhooks it makes.
        correlationId ??= operation.correlationId ?? undefined;
        const chain = dependencies.chains.get(operation.chainId);
        let broadcast = false;
        // Calls made for this transaction carry its correlation id, so their log lines do too.
        const correlationHeaders = (): Record<string, string> => (correlationId ? { [CORRELATION_HEADER]: correlationId } : {});
        const processorSend = () =>
          ctx.objectSendClient<TransactionProcessorApi>({ name: "TransactionProcessor" }, processorKey(operation.organizationId, operation.signerAddress, operation.chainId));

        try {
          await transition("submitting");
          if (!IMPLEMENTED_ROUTES.includes(operation.executor.route)) {
            throw new DomainTerminalError("SIGNER_ROUTE_UNSUPPORTED", `signer route "${operation.executor.route}" is not available on this worker`, { httpStatus: 422 });
          }
          if (!chain) throw new DomainTerminalError("CHAIN_NOT_CONFIGURED", `chain ${operation.chainId} is not configured on this worker`, { httpStatus: 422 });
          const signerKnown = await ctx.run("resolve-signer", async () => dependencies.signers.has(operation.signerAddress));
          if (!signerKnown) {
            throw new DomainTerminalError("SIGNER_NOT_FOUND", `no key is registered for signer ${operation.signerAddress}`, { httpStatus: 422 });
          }
          const call = await runStep(ctx, "prepare-call", () => prepareCall(chain, operation, settings.attributionSuffix), preBroadcastRetry);

          const processor = ctx.objectClient<TransactionProcessorApi>(
            { name: "TransactionProcessor" },
            processorKey(operation.organizationId, operation.signerAddress, operation.chainId),
          );
          let attempt = 0;
          const callHeaders = correlationHeaders();
          const submit = () =>
            processor.submit({
              transactionId,
              attempt,
              signerAddress: operation.signerAddress,
              chainId: operation.chainId,
              ...call,
              ...(operation.maxFeePerGas && operation.maxPriorityFeePerGas
                ? { maxFeePerGas: operation.maxFeePerGas, maxPriorityFeePerGas: operation.maxPriorityFeePerGas }
                : {}),
            }, restate.rpc.opts<SubmitRequest, SubmitResult>({ headers: callHeaders }));
          let submitted = await submit();
          broadcast = true;
          let hashes: Hex[] = [submitted.hash];
          let raw = submitted.raw;
          await transition("confirming", { txHash: submitted.hash, nonce: submitted.nonce });
          let lastSentAt = await ctx.date.now();
          let lastReplacementAt = 0;

          /** Same nonce, higher fees; at the fee cap the transaction is `blocked` and keeps waiting. */
          const replaceStuck = async (now: number) => {
            lastReplacementAt = now;
            const replaced = await processor.replace({ transactionId, reason: "stuck" }, restate.rpc.opts<ReplaceRequest, ReplaceResult>({ headers: callHeaders }));
            if (replaced.kind === "replaced") {
              hashes = [...hashes, replaced.hash];
              raw = replaced.raw;
              ctx.console.info("stuck transaction replaced with higher fees", { transactionId, hash: replaced.hash, maxFeePerGas: replaced.maxFeePerGas });
              if (status.phase === "blocked") await transition("confirming", { error: null });
            } else if (replaced.kind === "at-fee-cap" && status.phase !== "blocked") {
              ctx.console.error("stuck transaction at the fee cap; waiting for fees to fall", { transactionId, maxFeePerGas: replaced.maxFeePerGas, alert: "FEE_CAP_REACHED" });
              await transition("blocked", { error: { code: "FEE_CAP_REACHED", message: `replacing it would exceed the fee cap; it offers ${replaced.maxFeePerGas} wei per gas` } });
            }
          };

          for (let round = 0; ; round++) {
            const check: ConfirmationCheck | null = await tryRun(ctx, `check-${round}`, () =>
              checkConfirmation(chain, { hashes, nonce: submitted.nonce, signerAddress: operation.signerAddress, confirmations: settings.confirmations }),
            );
            if (check === null) ctx.console.warn("receipt check failed; will check again", { transactionId, round });

            if (check?.kind === "confirmed") {
              if (check.reverted) {
                const reason = (await tryRun(ctx, "revert-reason", () => revertReasonOf(chain, check.hash, check.blockNumber))) ?? "execution reverted";
                throw new DomainTerminalError("EXECUTION_REVERTED", reason, { httpStatus: 422, metadata: { txHash: check.hash } });
              }
              const confirmedBlock = check.blockNumber;
              await waitForIndexer(ctx, dependencies.indexer, operation.chainId, confirmedBlock, settings.pollIntervalMs);
              const canonical = (await tryRun(ctx, `canonical-${round}`, () => isCanonical(chain, check.blockNumber, check.blockHash))) ?? false;
              if (canonical) {
                await transition("completed", { txHash: check.hash, blockNumber: confirmedBlock, error: null });
                processorSend().settle({ transactionId }, restate.rpc.sendOpts({ headers: callHeaders }));
                return status;
              }
              ctx.console.warn("receipt block is no longer canonical; back to confirming", { transactionId, block: confirmedBlock });
              await transition("confirming", { blockNumber: null });
            } else if (check?.kind === "dropped") {
              ctx.console.warn("transaction left the mempool; re-broadcasting the same bytes", { transactionId, nonce: submitted.nonce });
              const outcome = await tryRun(ctx, `rebroadcast-${round}`, () => rebroadcast(chain, raw));
              const now = await ctx.date.now();
              // Refused as underpriced: fees rose past what it offers, which is what stuck means.
              if (outcome?.kind === "underpriced" && (status.phase !== "blocked" || now - lastReplacementAt >= settings.stuckAfterMs)) {
                await replaceStuck(now);
              } else if (outcome?.kind === "refused" && status.error?.code !== outcome.code) {
                // The signed bytes hold the nonce; they cannot be dropped for new ones without risking
                // a double execution. Report it and keep trying: topped-up funds let them through.
                ctx.console.error("the node refuses the signed transaction; blocked until it accepts it", { transactionId, code: outcome.code, alert: "TRANSACTION_REFUSED" });
                await transition("blocked", { error: { code: outcome.code, message: `the node refuses the signed transaction: ${outcome.message}` } });
              } else if (outcome?.kind === "sent" && status.phase === "blocked") {
                await transition("confirming", { error: null });
              }
              lastSentAt = now;
            } else if (check?.kind === "nonce-consumed") {
              // Another sender's transaction took our nonce and none of ours was mined: ours can
              // never be, so sign again at a fresh nonce.
              ctx.console.warn("nonce consumed by another transaction; resubmitting at a new nonce", { transactionId, nonce: submitted.nonce });
              attempt += 1;
              submitted = await submit();
              hashes = [submitted.hash];
              raw = submitted.raw;
              await transition("confirming", { txHash: submitted.hash, nonce: submitted.nonce });
              lastSentAt = await ctx.date.now();
            } else if (check?.kind === "pending") {
              const now = await ctx.date.now();
              if (now - lastSentAt >= settings.stuckAfterMs) {
                await replaceStuck(now);
                lastSentAt = now;
              }
            }
            // Woken by the chain monitor at the next block, or by the fallback interval.
            await waitForNextBlock(ctx, { chainId: operation.chainId, afterBlock: check?.head ?? 0, fallbackMs: settings.pollIntervalMs, headers: callHeaders });
          }
        } catch (error) {
          if (!(error instanceof restate.TerminalError)) throw error;
          const code =
            error instanceof restate.CancelledError ? "CANCELLED" : (errorCodeOf(error) ?? (broadcast ? "CONFIRMATION_FAILED" : "RETRY_BUDGET_EXHAUSTED"));
          const failure: TransactionError = { code, message: error.message };
          const deadLetter = !broadcast && code === "RETRY_BUDGET_EXHAUSTED";
          if (deadLetter) {
            await ctx.run("dead-letter", async () => {
              await insertDeadLetter(db, {
                id: `dl_tx_${transactionId}`,
                kind: "transaction",
                referenceId: transactionId,
                causeCode: code,
                causeMessage: error.message,
                payload: { transactionId, organizationId: operation.organizationId, chainId: operation.chainId },
              });
              metrics.deadLettered("transaction");
            });
          }
          const txHashOf = (error as { metadata?: Record<string, string> }).metadata?.txHash as Hex | undefined;
          await transition(deadLetter ? "dead-letter" : "failed", { error: failure, ...(txHashOf ? { txHash: txHashOf } : {}) });
          if (broadcast) {
            processorSend().settle({ transactionId }, restate.rpc.sendOpts({ headers: correlationHeaders() }));
          }
          throw new DomainTerminalError(code, error.message, { httpStatus: 422 });
        }
      },

      status: restate.handlers.workflow.shared(async (ctx: restate.WorkflowSharedContext<WorkflowState>): Promise<TransactionStatus> => {
        return (
          (await ctx.get("status")) ?? { phase: "submitting", transactionId: ctx.key, txHash: null, nonce: null, error: null }
        );
      }),
    },
  });
}

async function waitForIndexer(ctx: Ctx, indexer: IndexerSource, chainId: number, blockNumber: number, pollIntervalMs: number): Promise<void> {
  for (let round = 0; ; round++) {
    const indexed = await tryStep(ctx, `indexer-${blockNumber}-${round}`, () => indexer.indexedBlock(chainId), stepRetryPolicies.check);
    if (indexed !== null && indexed >= blockNumber) return;
    await ctx.sleep({ milliseconds: pollIntervalMs });
  }
}

export type TransactionExecutionWorkflow = ReturnType<typeof createTransactionExecutionWorkflow>;
