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
 *  3. TransactionProcessor nonce, signature (stored with the transaction), broadcast — steps 3 to
 *                         5 are the processor route (processor-route.ts); the smart-wallet route
 *                         (smart-wallet-route.ts) takes no nonce and confirms on its own
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
import type { Hex } from "viem";
import type { Database } from "../../../shared/db/client.ts";
import { getTransaction } from "../../../shared/db/repositories/transactions.ts";
import { errorCodeOf } from "../../../shared/errors.ts";
import { CORRELATION_HEADER } from "../../../shared/logger.ts";
import { OUTAGE_TOLERANT_RETRY_POLICY, runStep, stepRetryPolicies } from "../../../shared/restate/step-retry.ts";
import type { TransactionApproval } from "../../../shared/signers/approval.ts";
import { IMPLEMENTED_ROUTES } from "../../../shared/signers/executor-selection.ts";
import { countCompletion } from "../../../shared/telemetry/count-completion.ts";
import { countRefusedInput } from "../../../shared/telemetry/count-refused-input.ts";
import { startWebhookDeliveries } from "../webhook-delivery/emit-event.ts";
import { createCustodyRoute, type CustodySettings } from "./custody-route.ts";
import { approverPromise, createSignOnlyRoute } from "./sign-only-route.ts";
import { createSmartWalletRoute, type SmartWalletSettings } from "./smart-wallet-route.ts";
import { cancelledApproval } from "./sign-only-state.ts";
import { transactionError, type TransactionErrorCode } from "./errors.ts";
import { createPhaseRecorder, WORKFLOW_TYPE, type PhaseMetrics, type PhaseRecorder } from "./phase-recorder.ts";
import { createProcessorRoute, resumedWatch } from "./processor-route.ts";
import { RunEnded } from "./run-ended.ts";
import { TERMINAL_PHASES, transactionStatusSchema, type TransactionStatus } from "./status.ts";
import { storedOperationOf, submissionOutcomeSchema, transactionOperationSchema, type StoredOperation, type SubmissionOutcome, type TransactionOperation } from "./operation.ts";
import type { RunRefused, RunStart, TransactionSteps } from "./steps.ts";
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

        const cancel = ctx.promise<CancelTransactionRequest>(CANCEL_PROMISE);
        const executor = operation.executor;
        const { custody, signOnly, smartWallet } = routesFor(ctx, begun, recorder, cancel);
        const state = { cancelRequested: record.cancelRequested };
        // The processor route (processor-route.ts): a nonce through the sender's TransactionProcessor,
        // then the chain watch — EOA, sign-only once released, custody once broadcast. A nonce an
        // earlier run took is watched again.
        const processorRoute = createProcessorRoute({
          ctx,
          steps,
          settings,
          recorder,
          transactionId,
          operation,
          record,
          signerKnown: begun.signerKnown,
          resumed: start.kind === "resume" ? resumedWatch(loaded, start.nonce, state.cancelRequested, await ctx.date.now()) : null,
          cancel,
          headers,
          custody,
          signOnly,
        });
        const { progress } = processorRoute;

        /** Route checks, then the executor's route to its end; re-entered after a Restate cancellation. */
        const execute = async (): Promise<TransactionStatus> => {
          if (!progress.watch) {
            // Custody and smart wallet answer a cancellation themselves: the provider is asked to
            // cancel; an operation the bundler may hold is followed to its end.
            const ownCancellation = custody !== null || (executor.route === "smart-wallet" && smartWallet !== null);
            if (state.cancelRequested && !ownCancellation) throw new RunEnded("CANCELLED", "cancelled before a nonce was taken", { txHash: null, nonce: null });
            if (!IMPLEMENTED_ROUTES.includes(operation.executor.route)) {
              throw transactionError("SIGNER_ROUTE_UNSUPPORTED", `signer route "${operation.executor.route}" is not available on this worker`);
            }
            if (executor.route === "smart-wallet") {
              if (!smartWallet) throw transactionError("SIGNER_ROUTE_UNSUPPORTED", "the smart-wallet route is off on this worker (no BUNDLER_URL configured)");
              // No EOA nonce is taken: the sender's TransactionProcessor has nothing to settle.
              progress.settledByProcessor = true;
              const smartWalletState = { cancelRequested: state.cancelRequested };
              try {
                return await smartWallet.run(smartWalletState);
              } finally {
                state.cancelRequested = smartWalletState.cancelRequested;
              }
            }
          }
          return processorRoute.run(state);
        };

        for (;;) {
          try {
            const completed = await execute();
            if (!progress.settledByProcessor) processorRoute.settle();
            return completed;
          } catch (error) {
            if (error instanceof restate.CancelledError && !state.cancelRequested) {
              // Restate cancelled this run. Nothing signed yet: it ends CANCELLED. Signed: the
              // nonce is cancelled on chain, and the record follows what is mined.
              state.cancelRequested = true;
              await ctx.run("cancel-requested", () => steps.requestCancellation(transactionId, "invocation-cancelled"));
              await processorRoute.releaseAfterCancellation();
              // Custody: the provider is asked to cancel and the run follows what it does. Smart
              // wallet: an operation the bundler may hold cannot be called back; the run follows it.
              if (progress.watch || custody || smartWallet?.progress.submitted) continue;
              const approval = cancelledApproval(recorder.status.approval, new Date(await ctx.date.now()).toISOString());
              error = new RunEnded("CANCELLED", "cancelled through Restate before a nonce was taken", { txHash: null, nonce: null, ...(approval ? { approval } : {}) });
            }
            if (error instanceof RunEnded) {
              await recorder.transition("failed", { ...error.change, error: { code: error.code, message: error.message } });
              if (!progress.settledByProcessor) processorRoute.settle();
              throw transactionError(error.code, error.message);
            }
            if (!(error instanceof restate.TerminalError)) throw error;
            // The processor's call failed without a code (it was killed, say): what it signed is watched.
            if (!progress.watch && progress.stage === "taking-nonce" && !errorCodeOf(error) && (await processorRoute.watchAfterFailedSubmit(state))) continue;
            const watching = progress.watch !== null;
            const code = errorCodeOf(error) ?? (watching ? "CONFIRMATION_FAILED" : "RETRY_BUDGET_EXHAUSTED");
            const deadLetter = !watching && code === "RETRY_BUDGET_EXHAUSTED";
            if (deadLetter) {
              await ctx.run("dead-letter", async () => {
                await steps.fileDeadLetter({ transactionId, organizationId: operation.organizationId, chainId: operation.chainId, causeCode: code, causeMessage: error.message });
                metrics.deadLettered("transaction");
              });
            }
            const txHashOf = (error as { metadata?: Record<string, string> }).metadata?.txHash as Hex | undefined;
            await recorder.transition(deadLetter ? "dead-letter" : "failed", { error: { code, message: error.message }, ...(txHashOf ? { txHash: txHashOf } : {}) });
            if (watching) processorRoute.settle();
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
   * The routes with a file of their own, each built only for its executor and when it is
   * configured on this worker (null otherwise): custody, sign-only, smart wallet.
   */
  function routesFor(ctx: Ctx, begun: RunStart, recorder: PhaseRecorder, cancel: restate.DurablePromise<CancelTransactionRequest>) {
    const { operation, record } = begun;
    const transactionId = ctx.key;
    const executor = operation.executor;
    // The custody route (custody-route.ts): the provider signs and broadcasts; the processor route's watch confirms.
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
    return { custody, signOnly, smartWallet };
  }

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

export type TransactionExecutionWorkflow = ReturnType<typeof createTransactionExecutionWorkflow>;
