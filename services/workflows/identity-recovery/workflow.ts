/**
 * IdentityRecoveryWorkflow, keyed by the invitation id (`invitation_<ulid>`): an investor who lost a
 * wallet gets their on-chain identity and token balances moved to a new wallet.
 *
 * Steps (each journaled; every on-chain step is a child TransactionExecutionWorkflow whose
 * transaction id is derived from the invitation and the step, so a replay never sends it twice):
 *  1. load-invitation            the invitation row (registry, lost wallet, tokens, agent, expiry)
 *  2. waiting-for-acceptance     durable promise `decision`, resolved by the shared handlers
 *                                `accept` (new wallet + a signature by it) or `cancel`, or the expiry
 *  3. recovering-identity        registry.recoverIdentity(lost, new)
 *                                compensation: registry.recoverIdentity(new, lost)
 *  4. moving-balances            per token: forcedTransfer(lost, new, balance at that moment)
 *                                compensation: forcedTransfer(new, lost, the same amount)
 *  5. completed
 * Terminal outcomes: `expired` and `cancelled` (nothing on chain), `failed-compensated` (a step
 * failed and every completed step was undone, newest first), `failed-needs-operator` (an undo
 * itself failed: a dead letter names what was undone and what is left).
 * Where no compensation is possible on chain: a balance received by the new wallet and spent before
 * the undo cannot be pulled back beyond what the wallet still holds; the undo then fails and the
 * workflow ends `failed-needs-operator`.
 */
import * as restate from "@restatedev/restate-sdk";
import { encodeFunctionData, getAddress, type Hex } from "viem";
import type { Database } from "../../../shared/db/client.ts";
import { insertDeadLetter } from "../../../shared/db/repositories/dead-letters.ts";
import type { ChainRegistry } from "../../../shared/evm/chain-access.ts";
import { identityRegistryAbi, permissionedTokenAbi } from "../../../shared/evm/contracts/identity-recovery-abi.ts";
import { DomainTerminalError, errorCodeOf } from "../../../shared/errors.ts";
import { CORRELATION_HEADER } from "../../../shared/logger.ts";
import { countCompletion } from "../../../shared/telemetry/count-completion.ts";
import { createSaga, type SagaOutcome } from "../../../shared/restate/saga.ts";
import { OUTAGE_TOLERANT_RETRY_POLICY, runStep, stepRetryPolicies } from "../../../shared/restate/step-retry.ts";
import type { TransactionWorkflowMetrics } from "../transaction-execution/workflow.ts";
import { transactionExecutionWorkflow } from "../transaction-execution/api.ts";
import { schemaSerde } from "../../../shared/restate/schema-serde.ts";
import { acceptRequestSchema, acceptResultSchema, cancelRequestSchema, cancelResultSchema, recoveryStatusSchema } from "./schemas.ts";
import type { TransactionOperation } from "../transaction-execution/operation.ts";
import { type AcceptRequest, type CancelRequest, type RecoveryDecision, type RecoveryStatus, type RecoveryStep } from "./api.ts";
import { emitWebhookEvent } from "../webhook-delivery/emit-event.ts";
import { finishInvitation, loadInvitation, readTokenBalance, verifyAcceptance } from "./steps.ts";

export type IdentityRecoveryDependencies = {
  db: Database;
  chains: ChainRegistry;
  metrics: Pick<TransactionWorkflowMetrics, "workflowCompleted" | "deadLettered">;
};

type State = { status: RecoveryStatus };
type Ctx = restate.WorkflowContext<State>;
type SharedCtx = restate.WorkflowSharedContext<State>;

const DECISION = "decision";
const CLOSED_STAGES = new Set(["completed", "expired", "cancelled", "failed-compensated", "failed-needs-operator"]);

export function createIdentityRecoveryWorkflow(dependencies: IdentityRecoveryDependencies) {
  const { db, metrics } = dependencies;
  const loadRetry = stepRetryPolicies.bounded(300_000);

  return restate.workflow({
    name: "IdentityRecoveryWorkflow",
    options: { retryPolicy: OUTAGE_TOLERANT_RETRY_POLICY },
    handlers: {
      run: restate.handlers.workflow.workflow({ output: schemaSerde(recoveryStatusSchema, "output") }, async (ctx: Ctx): Promise<RecoveryStatus> => {
        const invitationId = ctx.key;
        const invitation = await runStep(ctx, "load-invitation", () => loadInvitation(db, invitationId), loadRetry);
        if (!invitation) {
          await countCompletion(ctx, metrics, "IdentityRecoveryWorkflow", "terminal_error");
          throw new DomainTerminalError("INVITATION_NOT_FOUND", `no recovery invitation ${invitationId}`, { httpStatus: 404 });
        }
        let status: RecoveryStatus = { invitationId, stage: "waiting-for-acceptance", newWallet: null, steps: [], compensation: null, error: null };
        const update = (change: Partial<RecoveryStatus>) => {
          status = { ...status, ...change };
          ctx.set("status", status);
        };
        /** Each stage the invitation enters is a webhook event (`identity-recovery.<stage>`). */
        let stageEvents = 0;
        const announce = async () => {
          stageEvents += 1;
          const snapshot = status;
          await emitWebhookEvent(ctx, db, {
            id: `evt_${invitationId}_${stageEvents}`,
            type: `identity-recovery.${snapshot.stage}`,
            data: { invitationId, stage: snapshot.stage, newWallet: snapshot.newWallet, steps: snapshot.steps, error: snapshot.error },
          }, { correlationId: invitationId });
        };
        const finish = async (stage: RecoveryStatus["stage"], change: Partial<RecoveryStatus> = {}) => {
          update({ ...change, stage });
          const final = status;
          await runStep(ctx, `finish-${stage}`, async () => {
            await finishInvitation(db, invitationId, final);
            metrics.workflowCompleted("IdentityRecoveryWorkflow", stage === "completed" || stage === "expired" || stage === "cancelled" ? "success" : "terminal_error");
          }, loadRetry);
          await announce();
        };
        update({});
        if (invitation.status !== "pending") {
          await countCompletion(ctx, metrics, "IdentityRecoveryWorkflow", "terminal_error");
          throw new DomainTerminalError("INVITATION_CLOSED", `invitation ${invitationId} is already ${invitation.status}`, { httpStatus: 409 });
        }

        // Acceptance, cancellation or expiry, whichever comes first.
        const remaining = Math.max(0, invitation.expiresAt - (await ctx.date.now()));
        let decision: RecoveryDecision;
        try {
          decision = await ctx.promise<RecoveryDecision>(DECISION).get().orTimeout({ milliseconds: remaining });
        } catch (error) {
          if (!(error instanceof restate.TimeoutError)) throw error;
          decision = await closeAsExpired(ctx);
        }
        if (decision.kind === "expired") {
          await finish("expired");
          return status;
        }
        if (decision.kind === "cancelled") {
          await finish("cancelled", { error: { code: "INVITATION_CANCELLED", message: decision.reason } });
          return status;
        }

        const newWallet = decision.newWallet;
        update({ newWallet, stage: "recovering-identity" });
        await announce();
        const saga = createSaga();
        const chainStep = async (step: string, target: Hex, data: Hex): Promise<RecoveryStep> => {
          const transactionId = `${invitationId}-${step}`;
          // The child run stores the operation in its first step; its key makes the step idempotent.
          const operation: TransactionOperation = {
            transactionId,
            organizationId: invitation.organizationId,
            chainId: invitation.chainId,
            signerAddress: invitation.agentAddress.toLowerCase() as Hex,
            target: target.toLowerCase() as Hex,
            data,
            value: "0",
            executor: { route: "eoa" },
            correlationId: invitationId,
          };
          const record = (result: RecoveryStep) => {
            update({ steps: [...status.steps.filter((s) => s.step !== step), result] });
            return result;
          };
          record({ step, transactionId, outcome: "running", txHash: null, error: null });
          try {
            const done = await ctx
              .workflowClient(transactionExecutionWorkflow, transactionId)
              .run(operation, restate.rpc.opts({ headers: { [CORRELATION_HEADER]: invitationId } }));
            return record({ step, transactionId, outcome: "completed", txHash: done.txHash, error: null });
          } catch (error) {
            if (!(error instanceof restate.TerminalError)) throw error;
            record({ step, transactionId, outcome: "failed", txHash: null, error: { code: errorCodeOf(error) ?? "TRANSACTION_FAILED", message: error.message } });
            throw error;
          }
        };

        try {
          await chainStep("identity", invitation.registryAddress, encodeFunctionData({ abi: identityRegistryAbi, functionName: "recoverIdentity", args: [invitation.lostWallet, newWallet] }));
          saga.onFailure("identity", async () => {
            await chainStep("identity-undo", invitation.registryAddress, encodeFunctionData({ abi: identityRegistryAbi, functionName: "recoverIdentity", args: [newWallet, invitation.lostWallet] }));
          });

          update({ stage: "moving-balances" });
          await announce();
          for (const [index, token] of invitation.tokens.entries()) {
            const chain = dependencies.chains.get(invitation.chainId);
            if (!chain) throw new DomainTerminalError("CHAIN_NOT_CONFIGURED", `chain ${invitation.chainId} is not configured`);
            const amount = await runStep(ctx, `balance-${index}`, () => readTokenBalance(chain, token, invitation.lostWallet), loadRetry);
            if (amount === "0") {
              update({ steps: [...status.steps, { step: `token-${index}`, transactionId: null, outcome: "skipped", txHash: null, error: null }] });
              continue;
            }
            await chainStep(`token-${index}`, token, encodeFunctionData({ abi: permissionedTokenAbi, functionName: "forcedTransfer", args: [invitation.lostWallet, newWallet, BigInt(amount)] }));
            saga.onFailure(`token-${index}`, async () => {
              await chainStep(`token-${index}-undo`, token, encodeFunctionData({ abi: permissionedTokenAbi, functionName: "forcedTransfer", args: [newWallet, invitation.lostWallet, BigInt(amount)] }));
            });
          }
        } catch (error) {
          if (!(error instanceof restate.TerminalError)) throw error;
          const failure = { code: errorCodeOf(error) ?? "RECOVERY_STEP_FAILED", message: error.message };
          ctx.console.error("recovery step failed; compensating", { invitationId, error: failure, steps: saga.registered() });
          const outcome: SagaOutcome = await saga.compensate();
          if (outcome.kind === "compensated") {
            await finish("failed-compensated", { error: failure, compensation: outcome });
            throw new DomainTerminalError("RECOVERY_FAILED_COMPENSATED", `recovery failed (${failure.message}); completed steps were undone: ${outcome.compensated.join(", ") || "none"}`);
          }
          await runStep(ctx, "dead-letter", async () => {
            await insertDeadLetter(db, {
              id: `dl_recovery_${invitationId}`,
              kind: "identity-recovery",
              referenceId: invitationId,
              causeCode: "COMPENSATION_FAILED",
              causeMessage: `undo of ${outcome.failed.step} failed: ${outcome.failed.error}`,
              payload: { invitationId, failure, compensation: outcome },
            });
            metrics.deadLettered("identity-recovery");
          }, loadRetry);
          await finish("failed-needs-operator", { error: failure, compensation: outcome });
          throw new DomainTerminalError("RECOVERY_NEEDS_OPERATOR", `recovery failed and undoing ${outcome.failed.step} failed too: ${outcome.failed.error}`);
        }

        await finish("completed");
        return status;
      }),

      accept: restate.handlers.workflow.shared(
        { input: schemaSerde(acceptRequestSchema, "input"), output: schemaSerde(acceptResultSchema, "output") },
        async (ctx: SharedCtx, request: AcceptRequest): Promise<{ accepted: true }> => {
        const invitation = await runStep(ctx, "load-invitation", () => loadInvitation(db, ctx.key), loadRetry);
        if (!invitation) throw new DomainTerminalError("INVITATION_NOT_FOUND", `no recovery invitation ${ctx.key}`, { httpStatus: 404 });
        const stage = (await ctx.get("status"))?.stage;
        if (invitation.status !== "pending" || (stage && CLOSED_STAGES.has(stage))) {
          throw new DomainTerminalError("INVITATION_CLOSED", `invitation ${ctx.key} is closed (${stage ?? invitation.status})`, { httpStatus: 409 });
        }
        if ((await ctx.date.now()) >= invitation.expiresAt) {
          throw new DomainTerminalError("INVITATION_EXPIRED", `invitation ${ctx.key} expired at ${new Date(invitation.expiresAt).toISOString()}`, { httpStatus: 409 });
        }
        const verdict = await runStep(ctx, "verify-acceptance", () => verifyAcceptance(ctx.key, invitation, request), loadRetry);
        if (!verdict.valid) throw new DomainTerminalError("INVALID_ACCEPTANCE", verdict.reason, { httpStatus: 422 });
        try {
          await ctx.promise<RecoveryDecision>(DECISION).resolve({ kind: "accepted", newWallet: getAddress(request.newWallet) });
        } catch (error) {
          if (error instanceof restate.TerminalError) {
            throw new DomainTerminalError("INVITATION_CLOSED", `invitation ${ctx.key} was already decided`, { httpStatus: 409 });
          }
          throw error;
        }
        return { accepted: true };
      }),

      cancel: restate.handlers.workflow.shared(
        { input: schemaSerde(cancelRequestSchema, "input"), output: schemaSerde(cancelResultSchema, "output") },
        async (ctx: SharedCtx, request: CancelRequest): Promise<{ cancelled: true }> => {
        try {
          await ctx.promise<RecoveryDecision>(DECISION).resolve({ kind: "cancelled", reason: request.reason });
        } catch (error) {
          if (error instanceof restate.TerminalError) {
            throw new DomainTerminalError("INVITATION_CLOSED", `invitation ${ctx.key} was already decided`, { httpStatus: 409 });
          }
          throw error;
        }
        return { cancelled: true };
      }),

      status: restate.handlers.workflow.shared({ output: schemaSerde(recoveryStatusSchema, "output") }, async (ctx: SharedCtx): Promise<RecoveryStatus> => {
        return (
          (await ctx.get("status")) ?? { invitationId: ctx.key, stage: "waiting-for-acceptance", newWallet: null, steps: [], compensation: null, error: null }
        );
      }),
    },
  });
}

/**
 * The expiry fired. Close the decision ourselves so a late `accept` cannot land; if an acceptance
 * won that race (it checked the expiry itself), honour it.
 */
async function closeAsExpired(ctx: Ctx): Promise<RecoveryDecision> {
  try {
    await ctx.promise<RecoveryDecision>(DECISION).resolve({ kind: "expired" });
    return { kind: "expired" };
  } catch (error) {
    if (!(error instanceof restate.TerminalError)) throw error;
    return (await ctx.promise<RecoveryDecision>(DECISION).peek()) ?? { kind: "expired" };
  }
}

export type IdentityRecoveryWorkflow = ReturnType<typeof createIdentityRecoveryWorkflow>;
