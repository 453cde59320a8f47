/**
 * The smart-wallet route of TransactionExecutionWorkflow: the sender is an ERC-4337 smart account
 * (a Safe with its 4337 module) whose owners sign the user operation, M of N; a bundler carries it
 * to the EntryPoint.
 *
 * Steps (each journaled):
 *  1. smart-wallet-prepare  the user operation, fixed before anyone signs (smart-wallet-steps.ts);
 *                           a later run of the key takes the one its record holds
 *  2. awaiting-approval     recorded with the operation, its SafeOp hash and user operation hash,
 *                           the owners and the signatures needed; again after each signature
 *  3. the wait              one durable promise per owner who has not decided (the `approve`
 *                           handler resolves it after storing the checked decision) and the cancel
 *                           promise. Enough rejections end it `failed` APPROVAL_REJECTED; a cancel
 *                           request `failed` CANCELLED — nothing sent either way.
 *  4. submitting            the M-th signature: the operation is sent once (the bundler and the
 *                           EntryPoint are asked first). An earlier nonce of the account not yet
 *                           executed, or the bundler holding another operation on this one →
 *                           `blocked` BLOCKED_BY_QUEUE, tried again after a pause;
 *                           another refusal → `failed` with the bundler's reason; an outage is
 *                           retried without end (the owners' signatures are out).
 *  5. confirming            the bundler's receipt (polled with durable sleeps), then the operation
 *                           at confirmation depth on the node and read by the indexer → `completed`
 *                           with the bundle's hash; a reverted call → `failed` EXECUTION_REVERTED.
 *                           The node has the last word: a reorg that moves the bundle to another
 *                           block (or the operation to another bundle) is followed, one that drops
 *                           it sends the bundle's bytes again, else the operation to the bundler.
 */
import * as restate from "@restatedev/restate-sdk";
import type { Hex } from "viem";
import { runStep, stepRetryPolicies, tryStep, type StepRetryPolicy } from "../../../shared/restate/step-retry.ts";
import type { TransactionApproval } from "../../../shared/signers/approval.ts";
import type { ExecutorSelection } from "../../../shared/signers/executor-selection.ts";
import type { PhaseRecorder } from "./phase-recorder.ts";
import { RunEnded } from "./run-ended.ts";
import { approverPromise } from "./sign-only-route.ts";
import { cancelledApproval } from "./sign-only-state.ts";
import { ownerQuorumOutcome } from "./smart-wallet-state.ts";
import type { BundleReceipt, SmartWalletSteps, StoredUserOperation, SubmitOptions } from "./smart-wallet-steps.ts";
import type { StoredOperation } from "./steps.ts";
import type { TransactionStatus } from "./status.ts";
import type { ApprovalSignal, CancelTransactionRequest } from "./types.ts";

type Ctx = Pick<restate.WorkflowContext, "run" | "sleep" | "date" | "console" | "promise">;

export type SmartWalletSettings = {
  confirmations: number;
  pollIntervalMs: number;
  /** Longest pause between two attempts while the bundler's queue for the account is full. */
  maxBlockedRetryMs: number;
  preBroadcastRetryMs: number;
};

export type SmartWalletRouteParameters = {
  ctx: Ctx;
  steps: SmartWalletSteps;
  settings: SmartWalletSettings;
  recorder: PhaseRecorder;
  transactionId: string;
  operation: StoredOperation & { executor: Extract<ExecutorSelection, { route: "smart-wallet" }> };
  cancel: restate.DurablePromise<CancelTransactionRequest>;
  /** The approval the record kept from an earlier run, if any. */
  storedApproval: TransactionApproval | null;
  /** The highest block the indexer has read (null when it cannot say): `completed` waits for it, as on the other routes. */
  indexedBlock: (chainId: number) => Promise<number | null>;
};

/** Retried until it succeeds: after the owners signed, an outage is waited out. */
/** How many receipt looks pass between two checks that the bundler still holds the operation. */
const RESUBMIT_CHECK_EVERY = 10;

const UNTIL_DONE: StepRetryPolicy = { initialRetryInterval: { milliseconds: 200 }, maxRetryInterval: { milliseconds: 5_000 }, retryIntervalFactor: 2 };

export function createSmartWalletRoute(parameters: SmartWalletRouteParameters) {
  const { ctx, steps, settings, recorder, transactionId, operation, cancel } = parameters;
  /** Where the route is; `submitted` once the bundler may hold the operation (a cancellation cannot stop it then). */
  const progress = { submitted: false };
  let round = 0;

  if (parameters.storedApproval?.route === "smart-wallet" && recorder.status.approval === undefined) {
    recorder.publish({ ...recorder.status, approval: parameters.storedApproval });
  }

  /** Until the M-th owner signed; answers the released approvers. */
  const untilSigned = async (state: { cancelRequested: boolean }, userOperation: StoredUserOperation, owners: string[], threshold: number, requestedAt: string): Promise<string[]> => {
    for (let wait = 0; ; wait++) {
      const decisions = await runStep(ctx, `smart-wallet-decisions-${wait}`, () => steps.decisions(transactionId), stepRetryPolicies.bounded(settings.preBroadcastRetryMs));
      const outcome = ownerQuorumOutcome({ owners, threshold, decisions, requestedAt, userOperation });
      if (outcome.kind === "approved") {
        await recorder.transition("submitting", { approval: outcome.approval }, "approved");
        return outcome.approvers;
      }
      if (outcome.kind === "rejected") {
        throw new RunEnded("APPROVAL_REJECTED", `rejected by owners ${outcome.by.join(", ")}: ${threshold} signatures can no longer come; nothing was sent`, { txHash: null, nonce: null, approval: outcome.approval });
      }
      if (recorder.status.phase !== "awaiting-approval" || JSON.stringify(recorder.status.approval) !== JSON.stringify(outcome.approval)) {
        await recorder.transition("awaiting-approval", { approval: outcome.approval }, recorder.status.phase === "awaiting-approval" ? "approval-given" : undefined);
      }
      if (state.cancelRequested) {
        const now = new Date(await ctx.date.now()).toISOString();
        throw new RunEnded("CANCELLED", "cancelled while waiting for owner signatures; nothing was sent", { txHash: null, nonce: null, approval: cancelledApproval(outcome.approval, now) });
      }
      const woke = await restate.RestatePromise.race([
        ...outcome.pending.map((owner) => ctx.promise<ApprovalSignal>(approverPromise(owner)).get().map(() => "decision" as const)),
        cancel.get().map(() => "cancel" as const),
      ]);
      if (woke === "cancel") state.cancelRequested = true;
    }
  };

  const endIfReverted = (bundle: BundleReceipt) => {
    if (bundle.success) return;
    throw new RunEnded("EXECUTION_REVERTED", bundle.reason ? `the call reverted in the bundle: ${bundle.reason}` : "the call reverted in the bundle", { txHash: bundle.txHash, blockNumber: bundle.blockNumber });
  };

  /** Sends the operation once; `blocked` while another operation of the account goes first. */
  const submit = async (userOperation: StoredUserOperation, signature: Hex, label = "first", options: SubmitOptions = { askBundlerFirst: true }) => {
    let pause = settings.pollIntervalMs;
    for (let attempt = 0; ; attempt++) {
      progress.submitted = true;
      const outcome = await runStep(ctx, `smart-wallet-submit-${label}-${attempt}`, () => steps.submit(userOperation, signature, options), UNTIL_DONE);
      if (outcome.kind !== "queue-full") {
        if (recorder.status.phase === "blocked") await recorder.transition("confirming", { error: null });
        if (outcome.kind === "known" && label !== "first") return;
        ctx.console.info(outcome.kind === "sent" ? "user operation sent to the bundler" : "the bundler already has the user operation", { transactionId, userOpHash: userOperation.userOpHash });
        return;
      }
      if (recorder.status.phase !== "blocked") {
        ctx.console.warn("another operation of the account goes first; waiting", { transactionId, account: userOperation.sender });
        await recorder.transition("blocked", { error: { code: "BLOCKED_BY_QUEUE", message: `the queue of account ${userOperation.sender} is blocked: ${outcome.message}` } });
      }
      await ctx.sleep({ milliseconds: pause });
      pause = Math.min(pause * 2, settings.maxBlockedRetryMs);
    }
  };

  /**
   * A bundle a reorg took off the chain: its bytes are sent again (as the network would put them
   * back); when the node refuses them (the bundler's account used that nonce since), the operation
   * itself goes to the bundler again. Either way the EntryPoint's nonce guards against a second execution.
   */
  const bringBack = async (userOperation: StoredUserOperation, signature: Hex, bundle: BundleReceipt) => {
    ctx.console.warn("the bundle left the chain in a reorg; sending it again", { transactionId, bundle: bundle.txHash });
    const raw = bundle.raw ?? null;
    const outcome = raw ? await tryStep(ctx, `smart-wallet-rebroadcast-${round}`, () => steps.rebroadcastBundle(operation.chainId, raw), stepRetryPolicies.check) : null;
    if (outcome?.kind !== "sent") await submit(userOperation, signature, `after-reorg-${round}`, { askBundlerFirst: false });
  };

  /**
   * Polls the bundler for the receipt, then the node for the operation at depth. Every few looks
   * without a receipt the submission is checked again: a bundler that restarted has lost its
   * mempool, and the same signed operation (same hash) is sent again unless it is known or mined.
   * The node decides where the operation is: a reorg that moves or drops its bundle sends the
   * transaction back to `confirming`, and a dropped bundle is brought back.
   */
  const untilConfirmed = async (userOperation: StoredUserOperation, signature: Hex): Promise<TransactionStatus> => {
    const userOpHash = userOperation.userOpHash as Hex;
    let bundle: BundleReceipt | null = null;
    let missingSince: number | null = null;
    for (;;) {
      round += 1;
      if (!bundle && round % RESUBMIT_CHECK_EVERY === 0) await submit(userOperation, signature, `recheck-${round}`);
      if (!bundle) {
        bundle = await tryStep(ctx, `smart-wallet-receipt-${round}`, () => steps.receipt(operation.chainId, userOpHash), stepRetryPolicies.check);
        if (bundle) {
          endIfReverted(bundle);
          await recorder.transition("confirming", { txHash: bundle.txHash, blockNumber: bundle.blockNumber, error: null });
        }
      }
      if (bundle) {
        const current: BundleReceipt = bundle;
        const where = await tryStep(ctx, `smart-wallet-locate-${round}`, () => steps.locate(operation.chainId, current, userOpHash), stepRetryPolicies.check);
        if (where?.kind === "mined") {
          missingSince = null;
          if (where.bundle.txHash !== current.txHash || where.bundle.blockHash !== current.blockHash) {
            bundle = where.bundle;
            endIfReverted(bundle);
            await recorder.transition("confirming", { txHash: bundle.txHash, blockNumber: bundle.blockNumber, error: null }, "reorg");
          }
          if (where.depth >= settings.confirmations) {
            const indexed = await tryStep(ctx, `smart-wallet-indexer-${round}`, () => parameters.indexedBlock(operation.chainId), stepRetryPolicies.check);
            if (indexed !== null && indexed >= bundle.blockNumber) {
              await recorder.transition("completed", { txHash: bundle.txHash, blockNumber: bundle.blockNumber, blockHash: bundle.blockHash, error: null });
              return recorder.status;
            }
          }
        } else if (where?.kind === "missing") {
          if (missingSince === null) {
            missingSince = round;
            await recorder.transition("confirming", { blockNumber: null, error: null }, "reorg");
          }
          if ((round - missingSince) % RESUBMIT_CHECK_EVERY === 0) await bringBack(userOperation, signature, current);
        }
      }
      await ctx.sleep({ milliseconds: settings.pollIntervalMs });
    }
  };

  /** What this run has done so far: `run` is entered again after a Restate cancellation and goes on from here. */
  const done: { userOperation: StoredUserOperation | null; owners: string[]; approvers: string[] | null; signature: Hex | null; sent: boolean } = {
    userOperation: null,
    owners: [],
    approvers: null,
    signature: null,
    sent: false,
  };

  return {
    progress,
    /** Everything from building the operation to its bundle confirmed; throws RunEnded when it ends otherwise. */
    run: async (state: { cancelRequested: boolean }): Promise<TransactionStatus> => {
      const stored = parameters.storedApproval?.route === "smart-wallet" ? parameters.storedApproval : null;
      const threshold = stored?.quorum?.needed ?? operation.executor.threshold;
      if (!done.userOperation && stored?.userOperation) {
        // A later run of the key takes the operation its record holds (owners may have signed it).
        done.userOperation = stored.userOperation;
        done.owners = stored.quorum?.approvers ?? [];
        if (stored.state === "approved") done.approvers = (stored.quorum?.given ?? []).slice(0, threshold).map((given) => given.approver);
      }
      if (!done.userOperation) {
        if (state.cancelRequested) throw new RunEnded("CANCELLED", "cancelled before the user operation was built", { txHash: null, nonce: null });
        const prepared = await runStep(ctx, "smart-wallet-prepare", () => steps.prepare(transactionId, operation), stepRetryPolicies.bounded(settings.preBroadcastRetryMs));
        done.userOperation = prepared.userOperation;
        done.owners = prepared.owners;
      }
      const userOperation = done.userOperation;
      if (!done.approvers) {
        const requestedAt = stored?.requestedAt ?? new Date(await ctx.date.now()).toISOString();
        done.approvers = await untilSigned(state, userOperation, done.owners, threshold, requestedAt);
      }
      if (!done.signature) {
        const approvers = done.approvers;
        done.signature = await runStep(ctx, "smart-wallet-signature", () => steps.signature(transactionId, approvers), UNTIL_DONE);
      }
      if (!done.sent) {
        await submit(userOperation, done.signature);
        done.sent = true;
        if (recorder.status.phase === "submitting") await recorder.transition("confirming", { error: null });
      }
      return untilConfirmed(userOperation, done.signature);
    },
  };
}

export type SmartWalletRoute = ReturnType<typeof createSmartWalletRoute>;
