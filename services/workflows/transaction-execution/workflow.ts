/**
 * TransactionExecutionWorkflow, keyed by the transaction id: one stored operation ends on chain
 * exactly once, or in a terminal phase with the reason — however often its key runs.
 *
 * Steps (each journaled; the database record follows every phase change):
 *  1. load                the operation, its record and every signature stored for it. A record
 *                         that ended (`completed`, `failed`) is reported, nothing more. Signatures
 *                         an earlier run made that may still be mined are watched (step 5); the
 *                         call is never signed again at another nonce while they may be.
 *  2. submitting          route, chain and signer; target code, attribution suffix, gas estimate
 *     awaiting-approval   sign-only route (sign-only-route.ts): until a quorum of the signer's
 *                         approvers approved (rejection, expiry, cancel: failed, no nonce taken)
 *  3. TransactionProcessor nonce, signature (stored with the transaction), broadcast
 *  4. confirming
 *  5. watch               one look at the chain per new block (ChainMonitor wakes the run):
 *                         mined at depth → indexer → canonical re-check → completed / failed;
 *                         dropped → same bytes again; the lowest unmined nonce stuck → fee bump
 *                         (at the cap: `blocked`); a cancellation asked for → a zero-value
 *                         self-transfer on the nonce; the nonce proven taken by another
 *                         transaction → signed again at a new nonce (or cancelled)
 * Pre-broadcast outages (RPC or database) longer than TX_PREBROADCAST_RETRY_BUDGET_MS end in
 * `dead-letter` with a row an operator replays. After broadcast nothing gives up.
 * A cancellation of this invocation through Restate is handled like a cancel request: before a
 * nonce is taken the run fails CANCELLED; after, it cancels on chain and waits for the outcome.
 * Compensations: none on chain (a mined transaction cannot be undone); failures carry the cause.
 */
import * as restate from "@restatedev/restate-sdk";
import { parseTransaction, type Hex } from "viem";
import type { Database } from "../../../shared/db/client.ts";
import { getTransaction } from "../../../shared/db/repositories/transactions.ts";
import { errorCodeOf } from "../../../shared/errors.ts";
import { CORRELATION_HEADER } from "../../../shared/logger.ts";
import { OUTAGE_TOLERANT_RETRY_POLICY, runStep, stepRetryPolicies, tryStep } from "../../../shared/restate/step-retry.ts";
import type { TransactionApproval } from "../../../shared/signers/approval.ts";
import { IMPLEMENTED_ROUTES } from "../../../shared/signers/executor-selection.ts";
import { countCompletion } from "../../../shared/telemetry/count-completion.ts";
import { countRefusedInput } from "../../../shared/telemetry/count-refused-input.ts";
import { transactionProcessor } from "../../transaction-processor/api.ts";
import { processorKey } from "../../transaction-processor/state.ts";
import type { MinedTransaction, ReplaceRequest, ReplaceResult, Signature, SignedCall, SubmitRequest, SubmitResult } from "../../transaction-processor/types.ts";
import { startWebhookDeliveries } from "../webhook-delivery/emit-event.ts";
import { waitForNextBlock } from "../chain-monitor/object.ts";
import { createCustodyRoute, type CustodySettings } from "./custody-route.ts";
import { approverPromise, createSignOnlyRoute } from "./sign-only-route.ts";
import { createSmartWalletRoute, type SmartWalletSettings } from "./smart-wallet-route.ts";
import { cancelledApproval } from "./sign-only-state.ts";
import { afterRebroadcast, hasCancellation, highestSignedFees, namesOurSignature, nextAction, type Watch } from "./decide.ts";
import { transactionError, type TransactionErrorCode } from "./errors.ts";
import { createPhaseRecorder, WORKFLOW_TYPE, type PhaseMetrics } from "./phase-recorder.ts";
import { RunEnded } from "./run-ended.ts";
import { TERMINAL_PHASES, transactionStatusSchema, type TransactionStatus } from "./status.ts";
import { storedOperationOf, submissionOutcomeSchema, transactionOperationSchema, type StoredOperation, type SubmissionOutcome, type TransactionOperation } from "./operation.ts";
import type { LoadedTransaction, RunRefused, RunStart, TransactionSteps } from "./steps.ts";
import {
  approveTransactionRequestSchema,
  approveTransactionResultSchema,
  cancelTransactionRequestSchema,
  cancelTransactionResultSchema,
  type ApprovalSignal,
  type ApproveTransactionRequest,
  type ApproveTransactionResult,
  type CancelTransactionRequest,
  type CancelTransactionResult,
} from "./types.ts";
import { schemaSerde } from "../../../shared/restate/schema-serde.ts";

export type TransactionWorkflowSettings = {
  confirmations: number;
  pollIntervalMs: number;
  stuckAfterMs: number;
  preBroadcastRetryMs: number;
  /** How long Restate keeps a finished run (its status and output); then status reads use the record. */
  retentionMs: number;
  /** The custody route's polling of its provider. */
  custody?: Omit<CustodySettings, "preBroadcastRetryMs">;
  /** The smart-wallet route's pause limit while the bundler's queue for an account is full. */
  smartWallet?: Pick<SmartWalletSettings, "maxBlockedRetryMs">;
};

export type TransactionWorkflowMetrics = PhaseMetrics & { deadLettered(kind: string): void };

export type TransactionExecutionDependencies = {
  db: Database;
  steps: TransactionSteps;
  settings: TransactionWorkflowSettings;
  metrics: TransactionWorkflowMetrics;
};

type WorkflowState = { status: TransactionStatus };
type Ctx = restate.WorkflowContext<WorkflowState>;
type SharedCtx = restate.WorkflowSharedContext<WorkflowState>;

/** The durable promise a cancel request resolves. */
const CANCEL_PROMISE = "cancel";
/** The durable promise the first step resolves with what became of the submission. */
const SUBMISSION_PROMISE = "submission";
/** How long the `submission` handler waits for a run that has not stored its operation yet. */
const SUBMISSION_WAIT_MS = 10_000;

/** The block a transaction was mined in left the chain (found after an indexer wait). */
class NotCanonical extends Error {
  readonly blockNumber: number;
  constructor(blockNumber: number) {
    super(`block ${blockNumber} is no longer canonical`);
    this.blockNumber = blockNumber;
  }
}

export function createTransactionExecutionWorkflow(dependencies: TransactionExecutionDependencies) {
  const { db, steps, settings, metrics } = dependencies;
  const preBroadcastRetry = stepRetryPolicies.bounded(settings.preBroadcastRetryMs);

  return restate.workflow({
    name: "TransactionExecutionWorkflow",
    options: { retryPolicy: OUTAGE_TOLERANT_RETRY_POLICY, workflowRetention: { milliseconds: settings.retentionMs } },
    handlers: {
      run: restate.handlers.workflow.workflow(
        { input: schemaSerde(transactionOperationSchema, "input"), output: schemaSerde(transactionStatusSchema, "output"), hooks: [countRefusedInput(metrics, WORKFLOW_TYPE)] },
        async (ctx: Ctx, input: TransactionOperation): Promise<TransactionStatus> => {
        const transactionId = ctx.key;
        const tryRun = <T>(name: string, action: () => Promise<T>) => tryStep(ctx, name, action, stepRetryPolicies.check);
        if (input.transactionId !== undefined && input.transactionId !== transactionId) {
          await countCompletion(ctx, metrics, WORKFLOW_TYPE, "terminal_error");
          throw transactionError("INVALID_TRANSACTION_REQUEST", `transactionId: "${input.transactionId}" is not the workflow key "${transactionId}"`, { fields: "transactionId" });
        }
        const submitted = storedOperationOf(transactionId, input);

        // 1. begin — a database outage longer than the budget is a dead letter, not a lost run.
        let begun: RunStart | RunRefused;
        try {
          begun = await runStep(ctx, "begin", () => steps.begin(transactionId, submitted), preBroadcastRetry);
        } catch (error) {
          if (!(error instanceof restate.TerminalError) || errorCodeOf(error)) throw error;
          return deadLetterUnloaded(ctx, submitted, error.message);
        }
        if ("refused" in begun) {
          await ctx.promise<SubmissionOutcome>(SUBMISSION_PROMISE).resolve({ refused: begun.refused });
          await countCompletion(ctx, metrics, WORKFLOW_TYPE, "terminal_error");
          throw transactionError(begun.refused.code, begun.refused.message, { fields: begun.refused.fields.join(",") });
        }
        await ctx.promise<SubmissionOutcome>(SUBMISSION_PROMISE).resolve({ stored: begun.operation });
        const loaded = begun;
        const { operation, record, start, startedAt } = begun;
        // The stored correlation id goes with the calls and webhooks of every run (a re-drive may
        // not carry one).
        const correlationId = input.correlationId ?? operation.correlationId ?? undefined;
        const headers: Record<string, string> = correlationId ? { [CORRELATION_HEADER]: correlationId } : {};
        const recorder = createPhaseRecorder(ctx, {
          db,
          metrics,
          transactionId,
          runId: loaded.runId,
          correlationId,
          startedAt,
          initial: statusOfRecord(transactionId, record),
          recordedBefore: begun.submitting ? 1 : 0,
        });
        if (start.kind === "report") {
          // The record ended in an earlier run: report it, touch nothing on chain.
          recorder.publish(recorder.status);
          if (record.phase === "failed") throw transactionError((record.errorCode ?? "CONFIRMATION_FAILED") as TransactionErrorCode, record.errorMessage ?? "failed");
          return recorder.status;
        }
        if (begun.submitting) {
          recorder.publish({ phase: "submitting", transactionId, txHash: null, nonce: null, error: null, blockNumber: null });
          startWebhookDeliveries(ctx, begun.submitting.deliveryIds, correlationId);
        }

        const key = processorKey(operation.organizationId, operation.signerAddress, operation.chainId);
        const sender = { organizationId: operation.organizationId, signerAddress: operation.signerAddress, chainId: operation.chainId };
        const processor = ctx.objectClient(transactionProcessor, key);
        const cancel = ctx.promise<CancelTransactionRequest>(CANCEL_PROMISE);
        const executor = operation.executor;
        /** Which of the processor's signers signs: the HSM for sign-only (EOA requests stay as they were). */
        const signerRoute = executor.route === "sign-only" ? { route: "sign-only" as const } : {};
        // The custody route (custody-route.ts): the provider signs and broadcasts; the watch below confirms.
        const custody =
          executor.route === "custody" && steps.custody
            ? createCustodyRoute({
                ctx,
                steps: steps.custody,
                settings: { pollIntervalMs: 5_000, maxPollIntervalMs: 60_000, ...settings.custody, preBroadcastRetryMs: settings.preBroadcastRetryMs },
                recorder,
                transactionId,
                operation: { ...operation, executor },
                cancel,
                storedApproval: record.approval,
              })
            : null;
        // The sign-only route (sign-only-route.ts): a quorum of approvers releases the HSM's signing.
        const signOnly =
          executor.route === "sign-only" && steps.signOnly
            ? createSignOnlyRoute({
                ctx,
                steps: steps.signOnly,
                recorder,
                transactionId,
                operation,
                cancel,
                storedApproval: record.approval,
                preBroadcastRetryMs: settings.preBroadcastRetryMs,
              })
            : null;
        // The smart-wallet route (smart-wallet-route.ts): owners sign a user operation a bundler carries.
        const smartWallet =
          executor.route === "smart-wallet" && steps.smartWallet
            ? createSmartWalletRoute({
                ctx,
                steps: steps.smartWallet,
                settings: {
                  confirmations: settings.confirmations,
                  pollIntervalMs: settings.pollIntervalMs,
                  maxBlockedRetryMs: settings.smartWallet?.maxBlockedRetryMs ?? 10_000,
                  preBroadcastRetryMs: settings.preBroadcastRetryMs,
                },
                recorder,
                transactionId,
                operation: { ...operation, executor },
                cancel,
                storedApproval: record.approval,
                indexedBlock: steps.indexedBlock,
              })
            : null;
        let cancelRequested = record.cancelRequested;
        let attempt = 0;
        let watch: Watch | null = start.kind === "resume" ? resumedWatch(loaded, start.nonce, cancelRequested, await ctx.date.now()) : null;
        /** Set once the processor (or its follower) has forgotten the nonce: no settle call needed. */
        let settledByProcessor = false;
        /** Where the run is; read after a Restate cancellation interrupts it anywhere. */
        const progress: { stage: "before-nonce" | "taking-nonce" | "watching" } = { stage: watch ? "watching" : "before-nonce" };
        /** Whether this run has recorded that it watches a nonce (a later run says so once). */
        let announced = false;
        let round = 0;

        /**
         * Takes a nonce through the sender's processor, which prepares, signs, records and sends
         * the call, and says whether it is mined at depth already. The processor's follower
         * resolves `mined` once it is (when it was not at once). Null when cancelled first.
         */
        const takeNonce = async (): Promise<{ watch: Watch; minedAtOnce: MinedTransaction | null; mined: restate.RestatePromise<MinedTransaction> } | null> => {
          progress.stage = "taking-nonce";
          const mined = ctx.awakeable<MinedTransaction>();
          const request: SubmitRequest = {
            transactionId,
            attempt,
            ...sender,
            ...signerRoute,
            operation: {
              target: operation.target,
              data: operation.data,
              value: operation.value,
              gasLimit: operation.gasLimit,
              maxFeePerGas: operation.maxFeePerGas,
              maxPriorityFeePerGas: operation.maxPriorityFeePerGas,
            },
            minedAwakeableId: mined.id,
          };
          const submitted = await processor.submit(request, restate.rpc.opts<SubmitRequest, SubmitResult>({ headers }));
          if (submitted.kind === "cancelled") return null;
          progress.stage = "watching";
          const signatures = submitted.signatures.length > 0 ? submitted.signatures : await ctx.run(`signatures-${attempt}`, () => steps.liveSignatures(transactionId));
          return {
            watch: { nonce: submitted.nonce, signatures, phase: "confirming", blockedCode: null, cancelRequested, lastSentAt: 0, lastReplacementAt: 0, sent: submitted.broadcast === "sent" },
            minedAtOnce: submitted.mined,
            mined: mined.promise,
          };
        };

        /**
         * Settles a transaction the processor saw mined, unless its block left the chain while the
         * indexer caught up: then it is `confirming` again (null) and the full watch takes over.
         */
        const settleUnlessReorged = async (current: Watch, mined: MinedTransaction, changes: { confirming: boolean }): Promise<TransactionStatus | null> => {
          try {
            return await settleMined(current, mined, changes);
          } catch (error) {
            if (!(error instanceof NotCanonical)) throw error;
            ctx.console.warn("receipt block is no longer canonical; back to confirming", { transactionId, block: error.blockNumber });
            await recorder.transition("confirming", { blockNumber: null }, "reorg");
            return null;
          }
        };

        /** The end of a transaction whose signature is mined at depth (canonical checked). */
        const settleMined = async (current: Watch, mined: MinedTransaction, changes: { confirming: boolean }): Promise<TransactionStatus> => {
          if (mined.reverted) {
            const reason = (await tryRun("revert-reason", () => steps.revertReason(operation.chainId, mined.hash, mined.blockNumber))) ?? "execution reverted";
            throw new RunEnded("EXECUTION_REVERTED", reason, { txHash: mined.hash, blockNumber: mined.blockNumber, nonce: current.nonce });
          }
          if (!steps.indexerIsChainHead) {
            // An indexer of its own may take a while: say confirming meanwhile, and look again that
            // the block is still canonical once it has caught up.
            if (changes.confirming) await recorder.transition("confirming", { txHash: latestHash(current), nonce: current.nonce });
            changes = { confirming: false };
            await waitForIndexer(ctx, steps, operation.chainId, mined.blockNumber, settings.pollIntervalMs);
            const canonical = await tryRun(`canonical-${mined.blockNumber}`, () => steps.isCanonical(operation.chainId, mined.blockNumber, mined.blockHash));
            if (canonical !== true) throw new NotCanonical(mined.blockNumber);
          }
          if (current.signatures.some((signature) => signature.hash === mined.hash && signature.kind === "cancellation")) {
            throw new RunEnded("CANCELLED", `cancelled (${record.cancelReason ?? "on request"}): a zero-value self-transfer took the nonce`, { txHash: mined.hash, blockNumber: mined.blockNumber, nonce: current.nonce });
          }
          const completed = { phase: "completed" as const, change: { txHash: mined.hash, nonce: current.nonce, blockNumber: mined.blockNumber, blockHash: mined.blockHash, error: null } };
          // Mined at once: confirming and completed are recorded together, each with its event.
          await recorder.transitions(changes.confirming ? [{ phase: "confirming", change: { txHash: latestHash(current), nonce: current.nonce } }, completed] : [completed]);
          return recorder.status;
        };

        /** Same nonce, higher fees (or a cancellation); at the fee cap the transaction is `blocked` and keeps waiting. */
        const replaceOnNonce = async (current: Watch, kind: "bump" | "cancel", now: number) => {
          current.lastReplacementAt = now;
          const request: ReplaceRequest = {
            transactionId,
            attempt,
            ...sender,
            ...signerRoute,
            nonce: current.nonce,
            kind: kind === "cancel" || hasCancellation(current) ? "cancel" : "bump",
            // A bump signs again exactly what was signed (decoded from the stored bytes).
            call: signedCallOf(current),
            previous: highestSignedFees(current),
            reason: "cancelled",
          };
          const replaced = await processor.replace(request, restate.rpc.opts<ReplaceRequest, ReplaceResult>({ headers }));
          if (replaced.kind === "replaced") {
            current.signatures = [...current.signatures, replaced.signature];
            current.lastSentAt = now;
            if (current.phase === "blocked") {
              current.phase = "confirming";
              current.blockedCode = null;
              await recorder.transition("confirming", { error: null });
            }
          } else if (replaced.kind === "at-fee-cap" && current.phase !== "blocked") {
            ctx.console.error("stuck transaction at the fee cap; waiting for fees to fall", { transactionId, maxFeePerGas: replaced.maxFeePerGas, alert: "FEE_CAP_REACHED" });
            current.phase = "blocked";
            current.blockedCode = "FEE_CAP_REACHED";
            await recorder.transition("blocked", { error: { code: "FEE_CAP_REACHED", message: `replacing it would exceed the fee cap; it offers ${replaced.maxFeePerGas} wei per gas` } });
          }
        };

        /** Watches the nonce until one of its signatures (or another transaction) settles it. */
        const watchUntilSettled = async (current: Watch): Promise<TransactionStatus> => {
          for (;;) {
            round += 1;
            const hashes = current.signatures.map((signature) => signature.hash);
            const observation = await tryRun(`observe-${round}`, () =>
              steps.observe(operation.chainId, { signerAddress: operation.signerAddress, nonce: current.nonce, hashes, confirmations: settings.confirmations }),
            );
            const now = await ctx.date.now();
            let action = observation ? nextAction(current, observation, now, settings) : ({ kind: "wait" } as const);
            if (custody) {
              // The provider owns fees and re-broadcasts: ddwf only asks it when the chain does not show the hash.
              const reviewed = await custody.reviewWatchAction(current.signatures, action, round);
              if (reviewed.adopted) current.signatures = [...current.signatures, reviewed.adopted];
              action = reviewed.action;
            }
            if (observation?.kind === "inconclusive") ctx.console.info("chain view not conclusive yet; looking again", { transactionId, why: observation.why });

            if (action.kind === "settle-mined") {
              if (action.reverted) {
                const reason = (await tryRun("revert-reason", () => steps.revertReason(operation.chainId, action.hash, action.blockNumber))) ?? "execution reverted";
                throw new RunEnded("EXECUTION_REVERTED", reason, { txHash: action.hash, blockNumber: action.blockNumber });
              }
              await waitForIndexer(ctx, steps, operation.chainId, action.blockNumber, settings.pollIntervalMs);
              const canonical = await tryRun(`canonical-${round}`, () => steps.isCanonical(operation.chainId, action.blockNumber, action.blockHash));
              if (canonical === true) {
                if (action.ours === "cancellation") {
                  throw new RunEnded("CANCELLED", `cancelled (${record.cancelReason ?? "on request"}): a zero-value self-transfer took the nonce`, { txHash: action.hash, blockNumber: action.blockNumber });
                }
                await recorder.transition("completed", { txHash: action.hash, blockNumber: action.blockNumber, blockHash: action.blockHash, error: null });
                return recorder.status;
              }
              if (canonical === false) {
                ctx.console.warn("receipt block is no longer canonical; back to confirming", { transactionId, block: action.blockNumber });
                await recorder.transition("confirming", { blockNumber: null }, "reorg");
              }
            } else if (action.kind === "consumed-by-other") {
              if (action.then === "cancelled") {
                throw new RunEnded("CANCELLED", `cancelled: nonce ${current.nonce} was taken by ${action.byHash} before the call was mined`, { txHash: null });
              }
              // Another transaction took the nonce at depth and none of ours can be mined: sign anew.
              ctx.console.warn("nonce consumed by another transaction; signing again at a new nonce", { transactionId, nonce: current.nonce, by: action.byHash });
              attempt += 1;
              const next = await takeNonce();
              if (!next) throw new RunEnded("CANCELLED", "cancelled before a new nonce was taken", { txHash: null, nonce: null });
              current = next.watch;
              watch = current;
              current.lastSentAt = now;
              await recorder.transition("confirming", { txHash: latestHash(current), nonce: current.nonce });
            } else if (action.kind === "rebroadcast") {
              ctx.console.warn("transaction left the mempool; sending the same bytes again", { transactionId, nonce: current.nonce });
              const outcome = await tryRun(`rebroadcast-${round}`, () => steps.rebroadcast(operation.chainId, current.signatures.at(-1)!.raw));
              const follow = afterRebroadcast(current, outcome, now, settings, observation?.latestNonce === current.nonce);
              if (follow.kind === "replace") await replaceOnNonce(current, "bump", now);
              else if (follow.kind === "block") {
                // The signed bytes hold the nonce; they cannot be dropped for new ones without risking
                // a double execution. Report it and keep trying: topped-up funds let them through.
                ctx.console.error("the node refuses the signed transaction; blocked until it accepts it", { transactionId, code: follow.code, alert: "TRANSACTION_REFUSED" });
                current.phase = "blocked";
                current.blockedCode = follow.code;
                await recorder.transition("blocked", { error: { code: follow.code, message: `the node refuses the signed transaction: ${follow.message}` } });
              } else if (follow.kind === "unblock") {
                current.phase = "confirming";
                current.blockedCode = null;
                await recorder.transition("confirming", { error: null });
              }
              current.lastSentAt = now;
            } else if (action.kind === "replace") {
              await replaceOnNonce(current, "bump", now);
              current.lastSentAt = now;
            } else if (action.kind === "send-cancellation") {
              ctx.console.info("cancelling on chain with a zero-value self-transfer", { transactionId, nonce: current.nonce });
              await replaceOnNonce(current, "cancel", now);
            }

            // Woken by the chain monitor at the next block, the fallback interval, or a cancel request.
            const woke = await waitForNextBlock(ctx, {
              chainId: operation.chainId,
              afterBlock: observation?.head ?? 0,
              fallbackMs: settings.pollIntervalMs,
              headers,
              ...(current.cancelRequested ? {} : { wakeOn: cancel.get() }),
            });
            if (woke === "woken") {
              cancelRequested = true;
              current.cancelRequested = true;
            }
          }
        };

        /** Everything from route checks to a settled nonce; re-entered after a Restate cancellation. */
        const execute = async (): Promise<TransactionStatus> => {
          if (!watch) {
            if (cancelRequested && !custody) throw new RunEnded("CANCELLED", "cancelled before a nonce was taken", { txHash: null, nonce: null });
            if (!IMPLEMENTED_ROUTES.includes(operation.executor.route)) {
              throw transactionError("SIGNER_ROUTE_UNSUPPORTED", `signer route "${operation.executor.route}" is not available on this worker`);
            }
            if (executor.route === "custody") {
              if (!custody || !begun.signerKnown) throw transactionError("SIGNER_ROUTE_UNSUPPORTED", `custody provider "${executor.provider}" is not configured on this worker`);
              const state = { cancelRequested };
              const broadcast = await custody.untilBroadcast(state);
              cancelRequested = state.cancelRequested;
              watch = watchOf([{ ...broadcast.signature, nonce: broadcast.nonce }], broadcast.nonce, cancelRequested, await ctx.date.now());
              progress.stage = "watching";
              announced = true;
              return watchUntilSettled(watch);
            }
            if (executor.route === "smart-wallet") {
              if (!smartWallet) throw transactionError("SIGNER_ROUTE_UNSUPPORTED", "the smart-wallet route is off on this worker (no BUNDLER_URL configured)");
              // No EOA nonce is taken: the sender's TransactionProcessor has nothing to settle.
              settledByProcessor = true;
              const state = { cancelRequested };
              try {
                return await smartWallet.run(state);
              } finally {
                cancelRequested = state.cancelRequested;
              }
            }
            if (executor.route === "sign-only") {
              if (!signOnly) throw transactionError("SIGNER_ROUTE_UNSUPPORTED", "the sign-only route is off on this worker (no HSM configured)");
              if (!begun.signerKnown) {
                throw transactionError("SIGNER_NOT_FOUND", `no HSM key with an approval policy for signer ${operation.signerAddress} behind provider "${executor.provider}"`);
              }
              const state = { cancelRequested };
              await signOnly.untilApproved(state);
              cancelRequested = state.cancelRequested;
            }
            if (!begun.signerKnown) throw transactionError("SIGNER_NOT_FOUND", `no key is registered for signer ${operation.signerAddress}`);
            const taken = await takeNonce();
            if (!taken) throw new RunEnded("CANCELLED", "cancelled before a nonce was taken", { txHash: null, nonce: null });
            watch = taken.watch;
            if (taken.minedAtOnce) {
              announced = true;
              const settled = await settleUnlessReorged(watch, taken.minedAtOnce, { confirming: true });
              if (settled) {
                settledByProcessor = true;
                return settled;
              }
            } else {
              await recorder.transition("confirming", { txHash: latestHash(watch), nonce: watch.nonce });
              announced = true;
            }
            if (watch.sent && !taken.minedAtOnce) {
              // The fast path: the key's follower says when it is mined at depth; a transaction still
              // not mined after the stuck interval (or a cancellation) goes to the full watch below.
              const waited = await restate.RestatePromise.race([
                taken.mined.map((mined) => ({ kind: "mined" as const, mined: mined! })),
                ctx.sleep({ milliseconds: settings.stuckAfterMs }).map(() => ({ kind: "timeout" as const })),
                ...(cancelRequested ? [] : [cancel.get().map(() => ({ kind: "cancel" as const }))]),
              ]);
              if (waited.kind === "mined" && !namesOurSignature(watch, waited.mined)) {
                ctx.console.warn("a mined wake-up names a hash this run did not sign; reading the chain instead", { transactionId, hash: waited.mined.hash });
              } else if (waited.kind === "mined") {
                const settled = await settleUnlessReorged(watch, waited.mined, { confirming: false });
                if (settled) {
                  settledByProcessor = true;
                  return settled;
                }
              }
              if (waited.kind === "cancel") cancelRequested = true;
            }
            watch.lastSentAt = await ctx.date.now();
          } else if (!announced && record.lastTransitionPhase !== "confirming" && record.lastTransitionPhase !== "blocked") {
            // A later run picks up bytes an earlier one signed (or a cancelled submit turned out
            // signed): say so once.
            await recorder.transition("confirming", { txHash: latestHash(watch), nonce: watch.nonce, error: null });
          }
          announced = true;
          watch.cancelRequested = cancelRequested;
          return watchUntilSettled(watch);
        };

        for (;;) {
          try {
            const completed = await execute();
            if (!settledByProcessor) processorSettle(ctx, key, transactionId, headers);
            return completed;
          } catch (error) {
            if (error instanceof restate.CancelledError && !cancelRequested) {
              // Restate cancelled this run. Nothing signed yet: it ends CANCELLED. Signed: the
              // nonce is cancelled on chain, and the record follows what is mined.
              cancelRequested = true;
              await ctx.run("cancel-requested", () => steps.requestCancellation(transactionId, "invocation-cancelled"));
              if (progress.stage === "taking-nonce") {
                const released = await processor.release({ transactionId }, restate.rpc.opts({ headers }));
                if (released.kind === "signed") {
                  const signatures = await ctx.run("signatures-after-cancel", () => steps.liveSignatures(transactionId));
                  if (signatures.length > 0) {
                    watch = watchOf(signatures, released.nonce, true, await ctx.date.now());
                    progress.stage = "watching";
                  }
                }
              }
              // Custody: the provider is asked to cancel and the run follows what it does. Smart
              // wallet: an operation the bundler may hold cannot be called back; the run follows it.
              if (watch || custody || smartWallet?.progress.submitted) continue;
              const approval = cancelledApproval(recorder.status.approval, new Date(await ctx.date.now()).toISOString());
              error = new RunEnded("CANCELLED", "cancelled through Restate before a nonce was taken", { txHash: null, nonce: null, ...(approval ? { approval } : {}) });
            }
            if (error instanceof RunEnded) {
              await recorder.transition("failed", { ...error.change, error: { code: error.code, message: error.message } });
              if (!settledByProcessor) processorSettle(ctx, key, transactionId, headers);
              throw transactionError(error.code, error.message);
            }
            if (!(error instanceof restate.TerminalError)) throw error;
            if (!watch && progress.stage === "taking-nonce" && !errorCodeOf(error)) {
              // The processor's call failed without a code (it was killed, say): whatever it
              // signed is stored; watch that instead of ending while it may be mined.
              const signatures = await ctx.run("signatures-after-failed-submit", () => steps.liveSignatures(transactionId));
              const latest = signatures.at(-1);
              if (latest) {
                watch = watchOf(signatures, latest.nonce, cancelRequested, await ctx.date.now());
                progress.stage = "watching";
                continue;
              }
            }
            const code = errorCodeOf(error) ?? (watch ? "CONFIRMATION_FAILED" : "RETRY_BUDGET_EXHAUSTED");
            const deadLetter = !watch && code === "RETRY_BUDGET_EXHAUSTED";
            if (deadLetter) {
              await ctx.run("dead-letter", async () => {
                await steps.fileDeadLetter({ transactionId, organizationId: operation.organizationId, chainId: operation.chainId, causeCode: code, causeMessage: error.message });
                metrics.deadLettered("transaction");
              });
            }
            const txHashOf = (error as { metadata?: Record<string, string> }).metadata?.txHash as Hex | undefined;
            await recorder.transition(deadLetter ? "dead-letter" : "failed", { error: { code, message: error.message }, ...(txHashOf ? { txHash: txHashOf } : {}) });
            if (watch) processorSettle(ctx, key, transactionId, headers);
            throw transactionError(code as TransactionErrorCode, error.message);
          }
        }
      }),

      /**
       * What became of the key's submission: the operation the run stored (compare it with yours:
       * a key keeps what it was first given), or why it was refused. Waits for a run that has not
       * stored it yet; null when none did within 10 s (the database away, or no run at all).
       */
      submission: restate.handlers.workflow.shared(
        { output: schemaSerde(submissionOutcomeSchema.nullable(), "output") },
        async (ctx: SharedCtx): Promise<SubmissionOutcome | null> =>
          restate.RestatePromise.race([
            ctx.promise<SubmissionOutcome>(SUBMISSION_PROMISE).get(),
            ctx.sleep({ milliseconds: SUBMISSION_WAIT_MS }).map(() => null),
          ]),
      ),

      /** The workflow's status while Restate keeps the run; after retention, the stored record's. */
      status: restate.handlers.workflow.shared({ output: schemaSerde(transactionStatusSchema, "output") }, async (ctx: SharedCtx): Promise<TransactionStatus> => {
        const status = await ctx.get("status");
        if (status) return status;
        const stored = await ctx.run("read-record", async () => {
          const row = await getTransaction(db, ctx.key);
          return row
            ? statusOfRecord(ctx.key, {
                ...row,
                txHash: (row.txHash ?? null) as Hex | null,
                nonce: row.nonce ?? null,
                blockNumber: row.blockNumber ?? null,
                errorCode: row.errorCode ?? null,
                errorMessage: row.errorMessage ?? null,
                approval: row.approval ?? null,
              })
            : null;
        });
        if (!stored) throw transactionError("TRANSACTION_NOT_FOUND", `no transaction ${ctx.key}`);
        return stored;
      }),

      /**
       * One approver's decision on a sign-only transaction: checked (an approver of the signer's
       * policy, its EIP-712 signature over this transaction and decision, its first decision, while
       * the transaction still waits) and stored in one step, then handed to the waiting run through
       * the approver's durable promise. A decision that does not count fails with a code naming the
       * reason and a `field` naming what is wrong; nothing changes then.
       */
      approve: restate.handlers.workflow.shared(
        { input: schemaSerde(approveTransactionRequestSchema, "input"), output: schemaSerde(approveTransactionResultSchema, "output") },
        async (ctx: SharedCtx, request: ApproveTransactionRequest): Promise<ApproveTransactionResult> => {
          const { signOnly: signOnlySteps, smartWallet: smartWalletSteps } = steps;
          if (!signOnlySteps && !smartWalletSteps) throw transactionError("APPROVAL_NOT_OPEN", "no route with approvals is on on this worker (no HSM, no bundler configured)");
          const requestId = ctx.request().id;
          const signal = await runStep(
            ctx,
            "record-decision",
            async () => {
              // A smart-wallet transaction's owners sign its user operation; the rest is the sign-only quorum.
              const owner = smartWalletSteps ? await smartWalletSteps.decide(ctx.key, request, requestId) : null;
              if (owner) return owner;
              if (!signOnlySteps) throw transactionError("APPROVAL_NOT_OPEN", `transaction ${ctx.key} takes no approvals on this worker (the sign-only route is off)`);
              return signOnlySteps.decide(ctx.key, request, requestId);
            },
            stepRetryPolicies.check,
          );
          // The run may be gone by now (ended, or waiting no more for this approver): nothing else to do then.
          await ctx
            .promise<ApprovalSignal>(approverPromise(signal.approver))
            .resolve(signal)
            .catch((error: unknown) => ctx.console.info("approval promise already resolved", { transactionId: ctx.key, error: String(error) }));
          ctx.console.info("approval decision counted", { transactionId: ctx.key, approver: signal.approver, decision: signal.decision });
          return { counted: true, transactionId: ctx.key, ...signal };
        },
      ),

      /**
       * Asks for the transaction to be cancelled. Before a nonce is taken nothing is signed; after,
       * a zero-value self-transfer races the call on its nonce. A transaction that already ended
       * is left alone (`accepted: false`).
       */
      cancel: restate.handlers.workflow.shared(
        { input: schemaSerde(cancelTransactionRequestSchema, "input"), output: schemaSerde(cancelTransactionResultSchema, "output") },
        async (ctx: SharedCtx, request: CancelTransactionRequest): Promise<CancelTransactionResult> => {
        const reason = request.reason?.slice(0, 500) || "cancel requested";
        const result = await ctx.run("request-cancellation", () => steps.requestCancellation(ctx.key, reason));
        if (!result) throw transactionError("TRANSACTION_NOT_FOUND", `no transaction ${ctx.key}`);
        if (result.accepted && !TERMINAL_PHASES.includes(result.phase)) {
          // A second request finds the promise resolved already; the first one's reason stands.
          await ctx
            .promise<CancelTransactionRequest>(CANCEL_PROMISE)
            .resolve({ reason })
            .catch((error: unknown) => ctx.console.info("cancellation already requested", { transactionId: ctx.key, error: String(error) }));
        }
        return { accepted: result.accepted, phase: result.phase };
      }),
    },
  });

  /**
   * The first step gave up on the database. Once it answers again the operation is stored (the
   * run's input is its only copy), the dead letter filed, and the record says `dead-letter`; an
   * operator's replay starts it from there.
   */
  async function deadLetterUnloaded(ctx: Ctx, submitted: StoredOperation, message: string): Promise<never> {
    const transactionId = submitted.transactionId;
    const startedAt = await ctx.date.now();
    const stored = await ctx.run("store-after-outage", () => steps.storeOrLoad(submitted));
    await ctx.promise<SubmissionOutcome>(SUBMISSION_PROMISE).resolve(stored.refused ? { refused: stored.refused } : { stored: stored.loaded.operation });
    if (stored.refused) {
      await countCompletion(ctx, metrics, WORKFLOW_TYPE, "terminal_error");
      throw transactionError(stored.refused.code, stored.refused.message, { fields: stored.refused.fields.join(",") });
    }
    await ctx.run("dead-letter", async () => {
      await steps.fileDeadLetter({ transactionId, organizationId: submitted.organizationId, chainId: submitted.chainId, causeCode: "RETRY_BUDGET_EXHAUSTED", causeMessage: `storing or loading the operation: ${message}` });
      metrics.deadLettered("transaction");
    });
    const recorder = createPhaseRecorder(ctx, {
      db,
      metrics,
      transactionId,
      runId: stored.loaded.runId,
      correlationId: submitted.correlationId ?? undefined,
      startedAt,
      initial: statusOfRecord(transactionId, stored.loaded.record),
    });
    const error = { code: "RETRY_BUDGET_EXHAUSTED", message: `the database did not answer within the pre-broadcast budget: ${message}` };
    await recorder.transition("dead-letter", { error });
    throw transactionError("RETRY_BUDGET_EXHAUSTED", error.message);
  }
}

function processorSettle(ctx: Ctx, key: string, transactionId: string, headers: Record<string, string>) {
  ctx.objectSendClient(transactionProcessor, key).settle({ transactionId }, restate.rpc.sendOpts({ headers }));
}

/** The call the latest signature of the call (not a cancellation) carries: what a bump signs again. */
function signedCallOf(watch: Watch): SignedCall {
  const signed = [...watch.signatures].reverse().find((signature) => signature.kind !== "cancellation") ?? watch.signatures.at(-1)!;
  const parsed = parseTransaction(signed.raw);
  return { to: parsed.to ?? null, data: parsed.data ?? "0x", value: (parsed.value ?? 0n).toString(), gas: (parsed.gas ?? 21_000n).toString() };
}

function latestHash(watch: Watch): Hex {
  return watch.signatures.at(-1)!.hash;
}

function watchOf(signatures: (Signature & { nonce: number })[], nonce: number, cancelRequested: boolean, now: number): Watch {
  const onNonce = signatures.filter((signature) => signature.nonce === nonce);
  return { nonce, signatures: onNonce, phase: "confirming", blockedCode: null, cancelRequested, lastSentAt: now, lastReplacementAt: 0 };
}

function resumedWatch(loaded: LoadedTransaction, nonce: number, cancelRequested: boolean, now: number): Watch {
  // A resumed watch counts as just sent: a stuck transaction is bumped a stuck interval from now.
  const watch = watchOf(loaded.signatures, nonce, cancelRequested, now);
  if (loaded.record.phase === "blocked") {
    watch.phase = "blocked";
    watch.blockedCode = loaded.record.errorCode;
  }
  return watch;
}

/** The status a run starts from (or reports): the stored record's. */
function statusOfRecord(
  transactionId: string,
  record: {
    phase: TransactionStatus["phase"];
    txHash: Hex | null | string;
    nonce: number | null;
    blockNumber: number | null;
    errorCode: string | null;
    errorMessage: string | null;
    approval?: TransactionApproval | null;
  },
): TransactionStatus {
  return {
    phase: record.phase,
    transactionId,
    txHash: (record.txHash ?? null) as Hex | null,
    nonce: record.nonce,
    error: record.errorCode ? { code: record.errorCode, message: record.errorMessage ?? "" } : null,
    blockNumber: record.blockNumber,
    ...(record.approval ? { approval: record.approval } : {}),
  };
}

async function waitForIndexer(ctx: Ctx, steps: TransactionSteps, chainId: number, blockNumber: number, pollIntervalMs: number): Promise<void> {
  for (let round = 0; ; round++) {
    const indexed = await tryStep(ctx, `indexer-${blockNumber}-${round}`, () => steps.indexedBlock(chainId), stepRetryPolicies.check);
    if (indexed !== null && indexed >= blockNumber) return;
    await ctx.sleep({ milliseconds: pollIntervalMs });
  }
}

export type TransactionExecutionWorkflow = ReturnType<typeof createTransactionExecutionWorkflow>;
