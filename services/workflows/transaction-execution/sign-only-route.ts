/**
 * The sign-only route of TransactionExecutionWorkflow, up to the release of the signing: the key
 * sits in an HSM that signs only what a quorum of the signer's approvers approved. Once released,
 * the workflow takes a nonce through the sender's TransactionProcessor, which signs with the HSM,
 * records and broadcasts exactly as on the EOA route.
 *
 * Steps (each journaled):
 *  1. approval-load       the signer's policy and the decisions stored so far (a later run of the
 *                         key, or a restarted worker, starts from what was already given)
 *  2. awaiting-approval   recorded with approvals given / needed, who approved, when it expires;
 *                         recorded again after each approval
 *  3. the wait            a race of one durable promise per approver who has not decided (the
 *                         `approve` handler resolves it after storing the verified decision), a
 *                         durable timer up to the expiry, and the cancel promise
 *  4. released            the M-th approval: `submitting` with the approval `approved`; the nonce
 *                         is taken only now. A rejection ends `failed` APPROVAL_REJECTED, the expiry
 *                         `failed` APPROVAL_EXPIRED, a cancel request `failed` CANCELLED — all with
 *                         no nonce taken and nothing signed.
 */
import * as restate from "@restatedev/restate-sdk";
import { runStep, stepRetryPolicies } from "../../../shared/restate/step-retry.ts";
import type { TransactionApproval } from "../../../shared/signers/approval.ts";
import type { PhaseRecorder } from "./phase-recorder.ts";
import { RunEnded } from "./run-ended.ts";
import { cancelledApproval, expiryOf, quorumOutcome } from "./sign-only-state.ts";
import type { SignOnlySteps } from "./sign-only-steps.ts";
import { transactionError } from "./errors.ts";
import type { StoredOperation } from "./steps.ts";
import type { ApprovalSignal, CancelTransactionRequest } from "./types.ts";

type Ctx = Pick<restate.WorkflowContext, "run" | "sleep" | "date" | "console" | "promise">;

/** The durable promise an approver's decision resolves (one per approver and run of the key). */
export const approverPromise = (approver: string) => `approval-${approver.toLowerCase()}`;

export type SignOnlyRouteParameters = {
  ctx: Ctx;
  steps: SignOnlySteps;
  recorder: PhaseRecorder;
  transactionId: string;
  operation: StoredOperation;
  /** The durable promise a cancel request resolves. */
  cancel: restate.DurablePromise<CancelTransactionRequest>;
  /** The approval the record kept from an earlier run, if any. */
  storedApproval: TransactionApproval | null;
  preBroadcastRetryMs: number;
};

export function createSignOnlyRoute(parameters: SignOnlyRouteParameters) {
  const { ctx, steps, recorder, transactionId, operation, cancel } = parameters;
  return {
    /** Waits until the quorum approved; throws RunEnded when it is rejected, expires or is cancelled first. */
    untilApproved: async (state: { cancelRequested: boolean }): Promise<void> => {
      const loaded = await runStep(ctx, "approval-load", () => steps.load(transactionId, operation.signerAddress), stepRetryPolicies.bounded(parameters.preBroadcastRetryMs));
      const policy = loaded.policy;
      if (!policy) throw transactionError("SIGNER_NOT_FOUND", `signer ${operation.signerAddress} has no approval policy on this worker`);
      const stored = parameters.storedApproval;
      // A wait an earlier run began keeps its start and so its expiry.
      const requestedAt = stored?.route === "sign-only" && stored.state === "pending" ? stored.requestedAt : new Date(await ctx.date.now()).toISOString();
      const expiresAt = expiryOf(requestedAt, policy.expiresAfterMs);
      let decisions: ApprovalSignal[] = loaded.decisions;
      for (;;) {
        const now = await ctx.date.now();
        const outcome = quorumOutcome({ policy, decisions, requestedAt, expiresAt, now });
        if (outcome.kind === "approved") {
          ctx.console.info("approval quorum reached; signing in the HSM", { transactionId, approvers: outcome.approval.quorum?.given.map((given) => given.approver) });
          await recorder.transition("submitting", { approval: outcome.approval }, "approved");
          return;
        }
        if (outcome.kind === "rejected") {
          throw new RunEnded("APPROVAL_REJECTED", `rejected by approver ${outcome.by}; nothing was signed`, { txHash: null, nonce: null, approval: outcome.approval });
        }
        if (outcome.kind === "expired") {
          const given = outcome.approval.quorum?.given.length ?? 0;
          throw new RunEnded("APPROVAL_EXPIRED", `${given} of ${policy.threshold} approvals came before the expiry at ${expiresAt}; nothing was signed`, {
            txHash: null,
            nonce: null,
            approval: outcome.approval,
          });
        }
        if (recorder.status.phase !== "awaiting-approval" || JSON.stringify(recorder.status.approval) !== JSON.stringify(outcome.approval)) {
          const first = recorder.status.phase !== "awaiting-approval";
          await recorder.transition("awaiting-approval", { approval: outcome.approval }, first ? undefined : "approval-given");
        }
        if (state.cancelRequested) {
          throw new RunEnded("CANCELLED", "cancelled while waiting for approval; nothing was signed", {
            txHash: null,
            nonce: null,
            approval: cancelledApproval(outcome.approval, new Date(now).toISOString()),
          });
        }
        const woke = await restate.RestatePromise.race([
          ...outcome.pending.map((approver) => ctx.promise<ApprovalSignal>(approverPromise(approver)).get().map((signal) => ({ kind: "decision" as const, signal: signal! }))),
          ctx.sleep({ milliseconds: Math.max(0, Date.parse(expiresAt) - now) }).map(() => ({ kind: "expiry" as const })),
          cancel.get().map(() => ({ kind: "cancel" as const })),
        ]);
        if (woke.kind === "decision") {
          if (!decisions.some((decision) => decision.approver === woke.signal.approver)) decisions = [...decisions, woke.signal];
        } else if (woke.kind === "cancel") {
          state.cancelRequested = true;
        }
      }
    },
  };
}

export type SignOnlyRoute = ReturnType<typeof createSignOnlyRoute>;
