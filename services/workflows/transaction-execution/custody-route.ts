/**
 * The custody route of TransactionExecutionWorkflow: a provider (Fireblocks) holds the key, applies
 * its own approval policy, signs and broadcasts; ddwf creates the provider transaction once and
 * follows it until a hash is on chain, then confirms it like any other transaction.
 *
 * Steps (each journaled):
 *  1. custody-prepare     the vault holds the signer's address; target code; attribution suffix;
 *                         gas estimate (a revert ends the run before the provider sees anything)
 *  2. custody-create      find the provider transaction by its external id (= our transaction id),
 *                         or create it with that id: a retried step or a later run never makes two
 *  3. custody-poll-<n>    one look at the provider transaction; its state moves our phase
 *                         (custody-state.ts); durable sleeps in between, longer while nothing
 *                         changes, woken early by a cancel request
 *  4. custody-adopt-<n>   the hash the provider broadcast, read from our node: nonce and signed
 *                         bytes (stored as the transaction's signature); the workflow's chain watch
 *                         takes over from there
 * A provider that does not answer (5xx, timeouts) is waited out: before the provider transaction
 * exists for TX_PREBROADCAST_RETRY_BUDGET_MS (then `dead-letter`), afterwards without limit.
 * A cancel request before creation ends the run CANCELLED; after, the provider is asked to cancel
 * and the run follows what the provider does (cancelled → CANCELLED; already signed → confirmed).
 */
import * as restate from "@restatedev/restate-sdk";
import type { Hex } from "viem";
import { runStep, stepRetryPolicies, tryStep } from "../../../shared/restate/step-retry.ts";
import type { TransactionApproval } from "../../../shared/signers/approval.ts";
import type { Signature } from "../../transaction-processor/types.ts";
import type { AdoptedBroadcast, CustodySteps } from "./custody-steps.ts";
import { nextCustodyStep, nextPollDelay } from "./custody-state.ts";
import type { WatchAction } from "./decide.ts";
import type { PhaseRecorder } from "./phase-recorder.ts";
import { RunEnded } from "./run-ended.ts";
import type { StoredOperation } from "./steps.ts";
import type { CancelTransactionRequest } from "./types.ts";

export type CustodySettings = { pollIntervalMs: number; maxPollIntervalMs: number; preBroadcastRetryMs: number };

type Ctx = Pick<restate.WorkflowContext, "run" | "sleep" | "date" | "console">;

export type CustodyRouteParameters = {
  ctx: Ctx;
  steps: CustodySteps;
  settings: CustodySettings;
  recorder: PhaseRecorder;
  transactionId: string;
  operation: StoredOperation & { executor: { route: "custody"; provider: string; vaultId: string } };
  /** The durable promise a cancel request resolves. */
  cancel: restate.DurablePromise<CancelTransactionRequest>;
  /** The approval the record kept from an earlier run, if any. */
  storedApproval: TransactionApproval | null;
};

/** Mutable run state shared with the workflow: whether a cancellation was asked for. */
export type CustodyRunState = { cancelRequested: boolean };

export function createCustodyRoute(parameters: CustodyRouteParameters) {
  const { ctx, steps, settings, recorder, transactionId, operation, cancel } = parameters;
  let providerTransactionId: string | null = null;
  let cancelAsked = false;
  let round = 0;
  const check = stepRetryPolicies.check;

  if (parameters.storedApproval && recorder.status.approval === undefined) {
    recorder.publish({ ...recorder.status, approval: parameters.storedApproval });
  }

  /** Asks the provider to cancel once; a provider that already signed refuses and the run goes on. */
  const askProviderToCancel = async () => {
    if (cancelAsked || !providerTransactionId) return;
    cancelAsked = true;
    const id = providerTransactionId;
    const accepted = await runStep(ctx, "custody-cancel", () => steps.cancel(id), stepRetryPolicies.bounded(settings.preBroadcastRetryMs)).catch(() => false);
    ctx.console.info(accepted ? "custody provider accepted the cancellation" : "custody provider refused the cancellation; following its transaction", { transactionId, providerTransactionId: id });
  };

  const adopt = (txHash: Hex, name: string) => tryStep(ctx, name, () => steps.adopt(transactionId, operation, txHash), check);

  return {
    /**
     * Creates (or finds) the provider transaction and follows it until the provider broadcast it
     * and our node knows the hash; throws RunEnded when the provider ends it first.
     */
    untilBroadcast: async (state: CustodyRunState): Promise<AdoptedBroadcast> => {
      const budget = stepRetryPolicies.bounded(settings.preBroadcastRetryMs);
      if (state.cancelRequested && !providerTransactionId) {
        // An earlier run may have created it: cancel that one rather than leave it to be approved.
        providerTransactionId = (await runStep(ctx, "custody-find", () => steps.find(transactionId), budget))?.id ?? null;
        if (!providerTransactionId) throw new RunEnded("CANCELLED", "cancelled before the custody provider was asked", { txHash: null, nonce: null });
      }
      if (!providerTransactionId) {
        const call = await runStep(ctx, "custody-prepare", () => steps.prepare(operation, operation.executor.vaultId), budget);
        const created = await runStep(
          ctx,
          "custody-create",
          () => steps.createOrFind({ ...call, externalTxId: transactionId, vaultId: operation.executor.vaultId, note: `ddwf ${transactionId}` }),
          budget,
        );
        providerTransactionId = created.id;
        ctx.console.info(created.created ? "custody provider transaction created" : "custody provider transaction found by external id", {
          transactionId,
          providerTransactionId: created.id,
        });
      }
      const id = providerTransactionId;
      let delay: number | null = null;
      let lastSeen = "";
      for (;;) {
        round += 1;
        if (state.cancelRequested) await askProviderToCancel();
        const view = await tryStep(ctx, `custody-poll-${round}`, () => steps.poll(id), check);
        let changed = false;
        if (view) {
          const seen = `${view.status}/${view.subStatus ?? ""}/${view.txHash ?? ""}`;
          changed = seen !== lastSeen;
          lastSeen = seen;
          const now = new Date(await ctx.date.now()).toISOString();
          const known = { phase: recorder.status.phase, approval: recorder.status.approval ?? null, cancelAsked };
          const step = nextCustodyStep(known, view, steps.providerName, now);
          if (step.kind === "wait" && step.unknownStatus && changed) {
            ctx.console.warn("custody provider reports a status ddwf does not know; waiting", { transactionId, status: step.unknownStatus });
          } else if (step.kind === "enter") {
            await recorder.transition(step.phase, { approval: step.approval });
          } else if (step.kind === "end") {
            throw new RunEnded(step.code, step.message, { txHash: null, nonce: null, approval: step.approval });
          } else if (step.kind === "broadcast") {
            const adopted = await adopt(step.txHash, `custody-adopt-${round}`);
            if (step.record) {
              await recorder.transition("confirming", { txHash: step.txHash, nonce: adopted?.nonce ?? null, approval: step.approval, error: null });
            }
            if (adopted) {
              if (recorder.status.nonce === null) recorder.publish({ ...recorder.status, nonce: adopted.nonce });
              return adopted;
            }
          }
        } else {
          ctx.console.warn("custody provider did not answer; waiting", { transactionId, providerTransactionId: id });
        }
        delay = nextPollDelay(delay, changed, settings);
        const woke = await restate.RestatePromise.race([
          ctx.sleep({ milliseconds: delay }).map(() => "slept" as const),
          ...(state.cancelRequested ? [] : [cancel.get().map(() => "cancel" as const)]),
        ]);
        if (woke === "cancel") state.cancelRequested = true;
      }
    },

    /**
     * What the chain watch does, for a custody transaction, after a look that did not find it
     * mined: the provider owns fees, replacements and re-broadcasts, so ddwf sends nothing; when
     * the chain no longer shows the hash (dropped, or its nonce taken) the provider is asked: a
     * replacement it broadcast is adopted, an ending it reports ends the run.
     */
    reviewWatchAction: async (signatures: Signature[], action: WatchAction, watchRound: number): Promise<{ action: WatchAction; adopted: Signature | null }> => {
      if (action.kind === "wait" || action.kind === "settle-mined") return { action, adopted: null };
      if (action.kind === "replace" || action.kind === "send-cancellation") return { action: { kind: "wait" }, adopted: null };
      // A run that resumed a watch finds its provider transaction by the external id.
      const view = await tryStep(ctx, `custody-recheck-${watchRound}`, () => (providerTransactionId ? steps.poll(providerTransactionId) : steps.find(transactionId)), check);
      if (!view) return { action: { kind: "wait" }, adopted: null };
      providerTransactionId = view.id;
      if (view.txHash && !signatures.some((signature) => signature.hash === view.txHash)) {
        const adopted = await adopt(view.txHash, `custody-adopt-replacement-${watchRound}`);
        return { action: { kind: "wait" }, adopted: adopted?.signature ?? null };
      }
      const now = new Date(await ctx.date.now()).toISOString();
      const step = nextCustodyStep({ phase: recorder.status.phase, approval: recorder.status.approval ?? null, cancelAsked }, { ...view, txHash: null }, steps.providerName, now);
      if (step.kind === "end") throw new RunEnded(step.code, step.message, { approval: step.approval });
      return { action: { kind: "wait" }, adopted: null };
    },
  };
}

export type CustodyRoute = ReturnType<typeof createCustodyRoute>;
