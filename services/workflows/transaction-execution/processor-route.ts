/**
 * The processor route of TransactionExecutionWorkflow: a nonce taken through the sender's
 * TransactionProcessor, then the chain watched until that nonce is settled. The EOA route runs
 * through it from start to end; the sign-only route (sign-only-route.ts) once its approvers released
 * the signing; the custody route (custody-route.ts) once the provider broadcast, for the watch.
 *
 * Steps (each journaled):
 *  1. TransactionProcessor  `submit`: nonce, signature (stored with the transaction), broadcast;
 *                           `signatures-<attempt>` when the answer carries none
 *  2. confirming            recorded; mined at once → settled at once (`revert-reason`, indexer,
 *                           `canonical-<block>`), else the processor's follower wakes the run when it
 *                           is mined at depth, the stuck interval or a cancel request first
 *  3. observe-<round>       one look at the chain per new block (ChainMonitor wakes the run):
 *                           mined at depth → indexer → `canonical-<round>` → completed / failed;
 *                           dropped → `rebroadcast-<round>` of the same bytes; the lowest unmined
 *                           nonce stuck → `replace` with higher fees (at the cap: `blocked`); a
 *                           cancellation asked for → a zero-value self-transfer on the nonce; the
 *                           nonce proven taken by another transaction → signed again at a new nonce
 *  4. settle                the processor forgets the nonce (sent by the workflow at the end)
 * After a Restate cancellation while the processor takes the nonce, `release` answers whether it
 * signed (`signatures-after-cancel`: then the nonce is watched and cancelled on chain); a submit that
 * failed without a code is looked up the same way (`signatures-after-failed-submit`).
 */
import * as restate from "@restatedev/restate-sdk";
import { parseTransaction, type Hex } from "viem";
import { stepRetryPolicies, tryStep } from "../../../shared/restate/step-retry.ts";
import { transactionProcessor } from "../../transaction-processor/api.ts";
import { processorKey } from "../../transaction-processor/state.ts";
import type { MinedTransaction, ReplaceRequest, ReplaceResult, Signature, SignedCall, SubmitRequest, SubmitResult } from "../../transaction-processor/types.ts";
import { waitForNextBlock } from "../chain-monitor/object.ts";
import type { CustodyRoute } from "./custody-route.ts";
import { afterRebroadcast, hasCancellation, highestSignedFees, namesOurSignature, nextAction, type Watch, type WatchSettings } from "./decide.ts";
import { transactionError } from "./errors.ts";
import type { PhaseRecorder } from "./phase-recorder.ts";
import { RunEnded } from "./run-ended.ts";
import type { SignOnlyRoute } from "./sign-only-route.ts";
import type { TransactionStatus } from "./status.ts";
import type { LoadedTransaction, StoredOperation, TransactionSteps } from "./steps.ts";
import type { CancelTransactionRequest } from "./types.ts";

type Ctx = Pick<restate.WorkflowContext, "run" | "sleep" | "date" | "console" | "awakeable" | "objectClient" | "objectSendClient">;

export type ProcessorRouteSettings = WatchSettings & { pollIntervalMs: number };

export type ProcessorRouteParameters = {
  ctx: Ctx;
  steps: TransactionSteps;
  settings: ProcessorRouteSettings;
  recorder: PhaseRecorder;
  transactionId: string;
  operation: StoredOperation;
  /** The stored record the run began from. */
  record: LoadedTransaction["record"];
  /** Whether the signer's key (or custody vault) is known on this worker. */
  signerKnown: boolean;
  /** The watch of a nonce an earlier run took (resumedWatch), else null. */
  resumed: Watch | null;
  /** The durable promise a cancel request resolves. */
  cancel: restate.DurablePromise<CancelTransactionRequest>;
  /** Correlation headers for the processor's and the chain monitor's calls. */
  headers: Record<string, string>;
  /** The custody route when the executor is custody (it broadcasts; this route watches), else null. */
  custody: CustodyRoute | null;
  /** The sign-only route when the executor is sign-only (it releases the signing), else null. */
  signOnly: SignOnlyRoute | null;
};

/** Mutable run state shared with the workflow: whether a cancellation was asked for. */
export type ProcessorRunState = { cancelRequested: boolean };

/** The block a transaction was mined in left the chain (found after an indexer wait). */
class NotCanonical extends Error {
  readonly blockNumber: number;
  constructor(blockNumber: number) {
    super(`block ${blockNumber} is no longer canonical`);
    this.blockNumber = blockNumber;
  }
}

export function createProcessorRoute(parameters: ProcessorRouteParameters) {
  const { ctx, steps, settings, recorder, transactionId, operation, record, cancel, headers, custody, signOnly } = parameters;
  const tryRun = <T>(name: string, action: () => Promise<T>) => tryStep(ctx, name, action, stepRetryPolicies.check);
  const key = processorKey(operation.organizationId, operation.signerAddress, operation.chainId);
  const sender = { organizationId: operation.organizationId, signerAddress: operation.signerAddress, chainId: operation.chainId };
  const processor = ctx.objectClient(transactionProcessor, key);
  const executor = operation.executor;
  /** Which of the processor's signers signs: the HSM for sign-only (EOA requests stay as they were). */
  const signerRoute = executor.route === "sign-only" ? { route: "sign-only" as const } : {};

  /** Where the route is; read by the workflow after a Restate cancellation interrupts it anywhere. */
  const progress: {
    stage: "before-nonce" | "taking-nonce" | "watching";
    /** The nonce watched and every signature on it; null until one is taken. */
    watch: Watch | null;
    /** Set once the processor (or its follower) has forgotten the nonce: no settle call needed. */
    settledByProcessor: boolean;
    /** Counts the nonces taken after the first (another transaction took the earlier one). */
    attempt: number;
    /** Whether this run has recorded that it watches a nonce (a later run says so once). */
    announced: boolean;
    /** Counts the looks at the chain (names their steps). */
    round: number;
  } = { stage: parameters.resumed ? "watching" : "before-nonce", watch: parameters.resumed, settledByProcessor: false, attempt: 0, announced: false, round: 0 };

  /**
   * Takes a nonce through the sender's processor, which prepares, signs, records and sends
   * the call, and says whether it is mined at depth already. The processor's follower
   * resolves `mined` once it is (when it was not at once). Null when cancelled first.
   */
  const takeNonce = async (state: ProcessorRunState): Promise<{ watch: Watch; minedAtOnce: MinedTransaction | null; mined: restate.RestatePromise<MinedTransaction> } | null> => {
    progress.stage = "taking-nonce";
    const mined = ctx.awakeable<MinedTransaction>();
    const request: SubmitRequest = {
      transactionId,
      attempt: progress.attempt,
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
    const signatures = submitted.signatures.length > 0 ? submitted.signatures : await ctx.run(`signatures-${progress.attempt}`, () => steps.liveSignatures(transactionId));
    return {
      watch: { nonce: submitted.nonce, signatures, phase: "confirming", blockedCode: null, cancelRequested: state.cancelRequested, lastSentAt: 0, lastReplacementAt: 0, sent: submitted.broadcast === "sent" },
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
      attempt: progress.attempt,
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
  const watchUntilSettled = async (current: Watch, state: ProcessorRunState): Promise<TransactionStatus> => {
    for (;;) {
      progress.round += 1;
      const round = progress.round;
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
        progress.attempt += 1;
        const next = await takeNonce(state);
        if (!next) throw new RunEnded("CANCELLED", "cancelled before a new nonce was taken", { txHash: null, nonce: null });
        current = next.watch;
        progress.watch = current;
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
        state.cancelRequested = true;
        current.cancelRequested = true;
      }
    }
  };

  /** Custody: the provider signs and broadcasts; its hash is watched from there. */
  const afterCustodyBroadcast = async (custodyRoute: CustodyRoute, state: ProcessorRunState): Promise<TransactionStatus> => {
    const custodyState = { cancelRequested: state.cancelRequested };
    const broadcast = await custodyRoute.untilBroadcast(custodyState);
    state.cancelRequested = custodyState.cancelRequested;
    const watch = watchOf([{ ...broadcast.signature, nonce: broadcast.nonce }], broadcast.nonce, state.cancelRequested, await ctx.date.now());
    progress.watch = watch;
    progress.stage = "watching";
    progress.announced = true;
    return watchUntilSettled(watch, state);
  };

  /** A nonce taken, recorded `confirming`, and settled at once or through the follower when it can be; else the watch after it. */
  const takeAndFollow = async (state: ProcessorRunState): Promise<{ settled: TransactionStatus } | { watch: Watch }> => {
    const taken = await takeNonce(state);
    if (!taken) throw new RunEnded("CANCELLED", "cancelled before a nonce was taken", { txHash: null, nonce: null });
    const watch = taken.watch;
    progress.watch = watch;
    if (taken.minedAtOnce) {
      progress.announced = true;
      const settled = await settleUnlessReorged(watch, taken.minedAtOnce, { confirming: true });
      if (settled) {
        progress.settledByProcessor = true;
        return { settled };
      }
    } else {
      await recorder.transition("confirming", { txHash: latestHash(watch), nonce: watch.nonce });
      progress.announced = true;
    }
    if (watch.sent && !taken.minedAtOnce) {
      // The fast path: the key's follower says when it is mined at depth; a transaction still
      // not mined after the stuck interval (or a cancellation) goes to the full watch below.
      const waited = await restate.RestatePromise.race([
        taken.mined.map((mined) => ({ kind: "mined" as const, mined: mined! })),
        ctx.sleep({ milliseconds: settings.stuckAfterMs }).map(() => ({ kind: "timeout" as const })),
        ...(state.cancelRequested ? [] : [cancel.get().map(() => ({ kind: "cancel" as const }))]),
      ]);
      if (waited.kind === "mined" && !namesOurSignature(watch, waited.mined)) {
        ctx.console.warn("a mined wake-up names a hash this run did not sign; reading the chain instead", { transactionId, hash: waited.mined.hash });
      } else if (waited.kind === "mined") {
        const settled = await settleUnlessReorged(watch, waited.mined, { confirming: false });
        if (settled) {
          progress.settledByProcessor = true;
          return { settled };
        }
      }
      if (waited.kind === "cancel") state.cancelRequested = true;
    }
    watch.lastSentAt = await ctx.date.now();
    return { watch };
  };

  return {
    progress,

    /**
     * From the route's own checks to a settled nonce; the workflow checked the cancel request and
     * the route before a nonce was taken. Re-entered after a Restate cancellation.
     */
    run: async (state: ProcessorRunState): Promise<TransactionStatus> => {
      let watch = progress.watch;
      if (!watch) {
        if (executor.route === "custody") {
          if (!custody || !parameters.signerKnown) throw transactionError("SIGNER_ROUTE_UNSUPPORTED", `custody provider "${executor.provider}" is not configured on this worker`);
          return afterCustodyBroadcast(custody, state);
        }
        if (executor.route === "sign-only") {
          if (!signOnly) throw transactionError("SIGNER_ROUTE_UNSUPPORTED", "the sign-only route is off on this worker (no HSM configured)");
          if (!parameters.signerKnown) {
            throw transactionError("SIGNER_NOT_FOUND", `no HSM key with an approval policy for signer ${operation.signerAddress} behind provider "${executor.provider}"`);
          }
          const signOnlyState = { cancelRequested: state.cancelRequested };
          await signOnly.untilApproved(signOnlyState);
          state.cancelRequested = signOnlyState.cancelRequested;
        }
        if (!parameters.signerKnown) throw transactionError("SIGNER_NOT_FOUND", `no key is registered for signer ${operation.signerAddress}`);
        const followed = await takeAndFollow(state);
        if ("settled" in followed) return followed.settled;
        watch = followed.watch;
      } else if (!progress.announced && record.lastTransitionPhase !== "confirming" && record.lastTransitionPhase !== "blocked") {
        // A later run picks up bytes an earlier one signed (or a cancelled submit turned out
        // signed): say so once.
        await recorder.transition("confirming", { txHash: latestHash(watch), nonce: watch.nonce, error: null });
      }
      progress.announced = true;
      watch.cancelRequested = state.cancelRequested;
      return watchUntilSettled(watch, state);
    },

    /**
     * After a Restate cancellation: a nonce being taken is released, or, when the processor had
     * signed already, its signatures are watched (the nonce is then cancelled on chain).
     */
    releaseAfterCancellation: async (): Promise<void> => {
      if (progress.stage !== "taking-nonce") return;
      const released = await processor.release({ transactionId }, restate.rpc.opts({ headers }));
      if (released.kind === "signed") {
        const signatures = await ctx.run("signatures-after-cancel", () => steps.liveSignatures(transactionId));
        if (signatures.length > 0) {
          progress.watch = watchOf(signatures, released.nonce, true, await ctx.date.now());
          progress.stage = "watching";
        }
      }
    },

    /**
     * The processor's call failed without a code (it was killed, say): whatever it signed is
     * stored; that is watched instead of ending while it may be mined. False when nothing was signed.
     */
    watchAfterFailedSubmit: async (state: ProcessorRunState): Promise<boolean> => {
      const signatures = await ctx.run("signatures-after-failed-submit", () => steps.liveSignatures(transactionId));
      const latest = signatures.at(-1);
      if (!latest) return false;
      progress.watch = watchOf(signatures, latest.nonce, state.cancelRequested, await ctx.date.now());
      progress.stage = "watching";
      return true;
    },

    /** Tells the sender's processor the transaction is done with its nonce (a one-way send). */
    settle: (): void => {
      ctx.objectSendClient(transactionProcessor, key).settle({ transactionId }, restate.rpc.sendOpts({ headers }));
    },
  };
}

export type ProcessorRoute = ReturnType<typeof createProcessorRoute>;

/** The watch of a nonce an earlier run took; it counts as just sent (a stuck one is bumped a stuck interval from now). */
export function resumedWatch(loaded: LoadedTransaction, nonce: number, cancelRequested: boolean, now: number): Watch {
  const watch = watchOf(loaded.signatures, nonce, cancelRequested, now);
  if (loaded.record.phase === "blocked") {
    watch.phase = "blocked";
    watch.blockedCode = loaded.record.errorCode;
  }
  return watch;
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

async function waitForIndexer(ctx: Ctx, steps: TransactionSteps, chainId: number, blockNumber: number, pollIntervalMs: number): Promise<void> {
  for (let round = 0; ; round++) {
    const indexed = await tryStep(ctx, `indexer-${blockNumber}-${round}`, () => steps.indexedBlock(chainId), stepRetryPolicies.check);
    if (indexed !== null && indexed >= blockNumber) return;
    await ctx.sleep({ milliseconds: pollIntervalMs });
  }
}
