/**
 * TransactionProcessor: one virtual object per `organizationId:signerAddress:chainId`. Its exclusive
 * handlers are the only place a nonce of that sender is handed out or signed, so two transactions
 * never share a nonce, while unrelated senders (other keys) proceed in parallel.
 *
 * submit:   reserve the next nonce (synced from the chain on first use) → one step that prepares the
 *           call, signs it, records the signature with the transaction (unless a cancellation came
 *           first: the nonce is handed back), sends it (signed again on the same nonce when
 *           underpriced) and looks once whether it is mined at depth → answer. `nonce too low` for
 *           someone else's transaction resyncs and takes the next nonce; a refusal before or at
 *           the node hands the nonce back.
 * follow:   the key's follower: while transactions wait for their mined signal, one look per poll
 *           at the sender's nonces resolves the waiting workflows whose transaction is mined at
 *           depth, and forgets those nonces.
 * replace:  sign the same nonce again with bumped fees: the call (stuck) or a zero-value
 *           self-transfer (cancellation); at the fee cap, say so.
 * fill:     a zero-value self-transfer on a nonce nobody holds, or whose run ended (reconciliation).
 * release:  after a cancelled submit: hand back a nonce that was reserved but never sent (or fill
 *           it when a later one went out meanwhile); answers `signed` when it was signed.
 * settle:   forget a finished transaction's nonce.
 * resync:   take the chain's pending nonce again (reconciliation, operator).
 * snapshot: (shared) what the key holds, for inspection.
 * Compensations: none; a nonce is either used on chain or handed to the next transaction.
 */
import * as restate from "@restatedev/restate-sdk";
import { DomainTerminalError, errorCodeOf } from "../../shared/errors.ts";
import { OUTAGE_TOLERANT_RETRY_POLICY, stepRetryPolicies, tryStep } from "../../shared/restate/step-retry.ts";
import { startWebhookDeliveries } from "../workflows/webhook-delivery/emit-event.ts";
import { EMPTY_META, fillHolder, STATE, type InFlightTransaction, type ProcessorMeta, type TransactionProcessorState } from "./state.ts";
import { selfTransfer, type BroadcastOutcome, type ProcessorSteps } from "./steps.ts";
import type {
  FillRequest,
  FillResult,
  ProcessorSender,
  ProcessorSnapshot,
  ReleaseRequest,
  ReleaseResult,
  ReplaceRequest,
  ReplaceResult,
  ResyncRequest,
  SettleRequest,
  Signature,
  SubmitRequest,
  SubmitResult,
} from "./types.ts";


/** Handlers Restate ingress refuses: a stray call could hand out or free a nonce. */
const INTERNAL = { ingressPrivate: true } as const;
export type TransactionProcessorDependencies = {
  steps: ProcessorSteps;
  settings: {
    /** How long a broadcast (and the steps before signing) keep being retried. */
    broadcastRetryMs: number;
    /** Pause between two follow ticks of a key while transactions wait for their mined signal. */
    followPollMs: number;
  };
};

type Ctx = restate.ObjectContext<TransactionProcessorState>;

/** Attempts at a fresh nonce when other senders keep taking ours; beyond it something is wrong. */
const MAX_NONCE_RESYNCS = 5;

export function createTransactionProcessor(dependencies: TransactionProcessorDependencies) {
  const { steps } = dependencies;
  const submitRetry = stepRetryPolicies.bounded(dependencies.settings.broadcastRetryMs);

  const metaOf = async (ctx: Ctx): Promise<ProcessorMeta> => ({ ...EMPTY_META, ...(await ctx.get(STATE.meta)) });
  const inFlightOf = async (ctx: Ctx) => (await ctx.get(STATE.inFlight)) ?? {};
  const senderOf = (request: ProcessorSender): ProcessorSender => ({
    organizationId: request.organizationId,
    signerAddress: request.signerAddress.toLowerCase(),
    chainId: request.chainId,
  });
  const count = (meta: ProcessorMeta, counter: keyof ProcessorMeta["counters"]) => {
    meta.counters = { ...meta.counters, [counter]: meta.counters[counter] + 1 };
  };

  const resyncNonce = async (ctx: Ctx, meta: ProcessorMeta, sender: ProcessorSender, label: string): Promise<number> => {
    let nonce: number;
    try {
      nonce = await ctx.run(label, () => steps.pendingNonce(sender), submitRetry);
    } catch (error) {
      // The RPC stayed away longer than the budget before anything was signed.
      if (error instanceof restate.TerminalError && !(error instanceof restate.CancelledError) && !errorCodeOf(error)) {
        throw new DomainTerminalError("RETRY_BUDGET_EXHAUSTED", `reading the pending nonce failed for longer than the budget: ${error.message}`, { httpStatus: 503 });
      }
      throw error;
    }
    meta.nextNonce = nonce;
    count(meta, "resyncs");
    ctx.set(STATE.meta, meta);
    return nonce;
  };

  /** Broadcast with retries; when they run out the outcome is unknown, never a new nonce. */
  const broadcast = async (ctx: Ctx, chainId: number, signature: Signature, label: string, replacement = false): Promise<BroadcastOutcome | { kind: "unknown" }> => {
    const outcome = await tryStep(ctx, label, () => steps.broadcast(chainId, signature, { replacement }), submitRetry);
    return outcome ?? { kind: "unknown" };
  };

  const withHash = (entry: InFlightTransaction, signature: Signature): InFlightTransaction => ({ ...entry, hashes: [...entry.hashes, signature.hash] });

  /** Starts the follower of the key if it is not running (one delayed call to itself). */
  const follow = (ctx: Ctx, meta: ProcessorMeta) => {
    if (meta.following) return;
    meta.following = true;
    ctx.objectSendClient(transactionProcessorDefinition, ctx.key).follow(restate.rpc.sendOpts({ delay: { milliseconds: dependencies.settings.followPollMs } }));
  };

  const fillNonce = async (
    ctx: Ctx,
    sender: ProcessorSender,
    nonce: number,
    reason: FillRequest["reason"],
    of?: { transactionId?: string | undefined; previous?: FillRequest["previous"] },
  ): Promise<FillResult> => {
    const latest = await ctx.run(`fill-latest-${nonce}`, () => steps.latestNonce(sender));
    if (latest > nonce) return { kind: "nonce-consumed" };
    const signed = await ctx.run(`fill-sign-${nonce}`, () =>
      steps.signReplacement({
        sender,
        transactionId: of?.transactionId ?? null,
        nonce,
        call: selfTransfer(sender.signerAddress),
        previous: of?.previous ?? null,
        kind: "cancellation",
        fillReason: reason,
      }),
    );
    if (!signed) return { kind: "at-fee-cap" };
    const meta = await metaOf(ctx);
    count(meta, "fills");
    if (meta.nextNonce === null || meta.nextNonce <= nonce) meta.nextNonce = nonce + 1;
    ctx.set(STATE.meta, meta);
    startWebhookDeliveries(ctx, signed.deliveryIds);
    const inFlight = await inFlightOf(ctx);
    const holder = of?.transactionId ?? fillHolder(nonce);
    inFlight[holder] = withHash(inFlight[holder] ?? { transactionId: holder, attempt: 0, nonce, hashes: [] }, signed.signature);
    ctx.set(STATE.inFlight, inFlight);
    const outcome = await broadcast(ctx, sender.chainId, signed.signature, `fill-broadcast-${nonce}`);
    if (outcome.kind === "nonce-too-low") return { kind: "nonce-consumed" };
    ctx.console.info("nonce filled", { nonce, reason, hash: signed.signature.hash });
    return { kind: "sent", hash: signed.signature.hash };
  };

  const object = restate.object({
    // Only the engine's own workflows and reconciler call it; ingress may read `snapshot` alone.
    name: "TransactionProcessor",
    options: { retryPolicy: OUTAGE_TOLERANT_RETRY_POLICY },
    handlers: {
      submit: restate.handlers.object.exclusive(INTERNAL, async (ctx: Ctx, request: SubmitRequest): Promise<SubmitResult> => {
        const sender = senderOf(request);
        const meta = await metaOf(ctx);
        meta.sender = sender;
        const inFlight = await inFlightOf(ctx);
        const existing = inFlight[request.transactionId];
        if (existing && existing.attempt === request.attempt && existing.hashes.length > 0) {
          // A retried call: the nonce was signed already; the workflow watches what is stored.
          return { kind: "signed", nonce: existing.nonce, signatures: [], broadcast: "unknown", mined: null };
        }
        if (existing) delete inFlight[request.transactionId];
        let nonce = meta.nextNonce ?? (await resyncNonce(ctx, meta, sender, "sync-nonce"));

        for (let round = 0; round <= MAX_NONCE_RESYNCS; round++) {
          // The reservation is written before signing: a nonce is never handed out twice, even if
          // this invocation dies in the step.
          meta.nextNonce = nonce + 1;
          count(meta, "submitted");
          ctx.set(STATE.meta, meta);
          const reserved: InFlightTransaction = {
            transactionId: request.transactionId,
            attempt: request.attempt,
            nonce,
            hashes: [],
            ...(request.minedAwakeableId ? { minedAwakeableId: request.minedAwakeableId } : {}),
          };
          inFlight[request.transactionId] = reserved;
          ctx.set(STATE.inFlight, inFlight);
          const handBack = () => {
            delete inFlight[request.transactionId];
            ctx.set(STATE.inFlight, inFlight);
            meta.nextNonce = nonce;
            ctx.set(STATE.meta, meta);
          };

          let step;
          try {
            step = await ctx.run(`submit-nonce-${nonce}`, () => steps.submitAtNonce(request, nonce), submitRetry);
          } catch (error) {
            // A cancellation of this call keeps the reservation: the step may have signed, and
            // `release` sorts that out. Any other failure happened before a signature was stored.
            if (!(error instanceof restate.TerminalError) || error instanceof restate.CancelledError) throw error;
            handBack();
            if (errorCodeOf(error)) throw error;
            throw new DomainTerminalError("RETRY_BUDGET_EXHAUSTED", `preparing and signing failed for longer than the budget: ${error.message}`, { httpStatus: 503 });
          }
          if (step.kind === "cancelled") {
            handBack();
            return { kind: "cancelled" };
          }
          if (step.outcome === "rejected") {
            handBack();
            throw new DomainTerminalError(step.rejection?.code ?? "BROADCAST_REJECTED", `the node refused the transaction: ${step.rejection?.message ?? "refused"}`, { httpStatus: 422 });
          }
          if (step.outcome === "nonce-too-low") {
            delete inFlight[request.transactionId];
            ctx.set(STATE.inFlight, inFlight);
            ctx.console.warn("nonce taken by another sender; resyncing", { nonce, transactionId: request.transactionId });
            nonce = await resyncNonce(ctx, meta, sender, `resync-after-nonce-${nonce}`);
            continue;
          }
          if (step.mined) {
            // Mined at depth already: nothing left to follow for this nonce.
            delete inFlight[request.transactionId];
          } else {
            inFlight[request.transactionId] = { ...reserved, hashes: step.signatures.map((signature) => signature.hash) };
            if (request.minedAwakeableId) {
              follow(ctx, meta);
              ctx.set(STATE.meta, meta);
            }
          }
          ctx.set(STATE.inFlight, inFlight);
          return { kind: "signed", nonce, signatures: step.signatures, broadcast: step.outcome === "sent" ? "sent" : "unknown", mined: step.mined };
        }
        throw new DomainTerminalError("NONCE_RESYNC_EXHAUSTED", `nonce kept being taken by another sender after ${MAX_NONCE_RESYNCS} resyncs`, { httpStatus: 503 });
      }),

      follow: restate.handlers.object.exclusive(INTERNAL, async (ctx: Ctx): Promise<void> => {
        const meta = await metaOf(ctx);
        const inFlight = await inFlightOf(ctx);
        const watched = Object.values(inFlight).filter((entry) => entry.minedAwakeableId && entry.hashes.length > 0);
        if (watched.length === 0 || !meta.sender) {
          meta.following = false;
          ctx.set(STATE.meta, meta);
          return;
        }
        const sender = meta.sender;
        meta.followTicks += 1;
        const found = await tryStep(
          ctx,
          `follow-${meta.followTicks}`,
          () => steps.followNonces(sender, watched.map(({ transactionId, nonce, hashes }) => ({ transactionId, nonce, hashes }))),
          stepRetryPolicies.check,
        );
        for (const { transactionId, mined } of found ?? []) {
          const entry = inFlight[transactionId];
          if (entry?.minedAwakeableId) ctx.resolveAwakeable(entry.minedAwakeableId, mined);
          delete inFlight[transactionId];
        }
        if ((found ?? []).length > 0) ctx.set(STATE.inFlight, inFlight);
        meta.following = false;
        if (watched.length > (found ?? []).length) follow(ctx, meta);
        ctx.set(STATE.meta, meta);
      }),

      replace: restate.handlers.object.exclusive(INTERNAL, async (ctx: Ctx, request: ReplaceRequest): Promise<ReplaceResult> => {
        const sender = senderOf(request);
        const meta = await metaOf(ctx);
        const round = meta.counters.replacements;
        const latest = await ctx.run(`latest-nonce-${request.nonce}-${round}`, () => steps.latestNonce(sender));
        if (latest > request.nonce) return { kind: "nonce-consumed" };
        const signed = await ctx.run(`sign-${request.kind}-${request.nonce}-${round}`, () =>
          steps.signReplacement({
            sender,
            transactionId: request.transactionId,
            nonce: request.nonce,
            call: request.call,
            previous: request.previous,
            kind: request.kind === "cancel" ? "cancellation" : "replacement",
            route: request.route,
            ...(request.kind === "cancel" ? { fillReason: request.reason ?? "cancelled" } : {}),
          }),
        );
        if (!signed) return { kind: "at-fee-cap", maxFeePerGas: request.previous.maxFeePerGas };
        meta.sender = sender;
        count(meta, "replacements");
        if (request.kind === "cancel") count(meta, "fills");
        ctx.set(STATE.meta, meta);
        startWebhookDeliveries(ctx, signed.deliveryIds);
        // This transaction holds the nonce again (a later run of its key may find it settled).
        const inFlight = await inFlightOf(ctx);
        inFlight[request.transactionId] = withHash(
          inFlight[request.transactionId] ?? { transactionId: request.transactionId, attempt: request.attempt, nonce: request.nonce, hashes: [] },
          signed.signature,
        );
        ctx.set(STATE.inFlight, inFlight);
        const outcome = await broadcast(ctx, request.chainId, signed.signature, `broadcast-${request.kind}-${request.nonce}-${round}`, true);
        if (outcome.kind === "nonce-too-low") return { kind: "nonce-consumed" };
        ctx.console.info(request.kind === "cancel" ? "cancellation sent" : "stuck transaction replaced", {
          transactionId: request.transactionId,
          nonce: request.nonce,
          hash: signed.signature.hash,
          maxFeePerGas: signed.signature.maxFeePerGas,
          outcome: outcome.kind,
        });
        // Sent, or refused for now (the workflow re-sends the latest bytes while it watches).
        return { kind: "replaced", signature: signed.signature };
      }),

      fill: restate.handlers.object.exclusive(INTERNAL, async (ctx: Ctx, request: FillRequest): Promise<FillResult> => {
        const sender = senderOf(request);
        return fillNonce(ctx, sender, request.nonce, request.reason, { transactionId: request.transactionId, previous: request.previous });
      }),

      release: restate.handlers.object.exclusive(INTERNAL, async (ctx: Ctx, request: ReleaseRequest): Promise<ReleaseResult> => {
        const inFlight = await inFlightOf(ctx);
        const entry = inFlight[request.transactionId];
        if (!entry) return { kind: "released" };
        if (entry.hashes.length > 0) return { kind: "signed", nonce: entry.nonce };
        // Reserved and never sent (the hashes are kept before any send): whatever the interrupted
        // step stored can never be sent and is void.
        await ctx.run(`void-${request.transactionId}-${entry.nonce}`, () => steps.voidSignatures(request.transactionId, entry.nonce));
        delete inFlight[request.transactionId];
        ctx.set(STATE.inFlight, inFlight);
        const meta = await metaOf(ctx);
        if (meta.nextNonce === entry.nonce + 1) {
          meta.nextNonce = entry.nonce;
          ctx.set(STATE.meta, meta);
          return { kind: "released" };
        }
        // A later nonce was handed out meanwhile: fill this one so the sender's queue has no hole.
        if (meta.sender) await fillNonce(ctx, meta.sender, entry.nonce, "cancelled");
        return { kind: "filled", nonce: entry.nonce };
      }),

      settle: restate.handlers.object.exclusive(INTERNAL, async (ctx: Ctx, request: SettleRequest): Promise<void> => {
        const inFlight = await inFlightOf(ctx);
        if (!(request.transactionId in inFlight)) return;
        delete inFlight[request.transactionId];
        ctx.set(STATE.inFlight, inFlight);
      }),

      resync: restate.handlers.object.exclusive(INTERNAL, async (ctx: Ctx, request?: ResyncRequest): Promise<{ nextNonce: number }> => {
        const meta = await metaOf(ctx);
        const sender = request ? senderOf(request) : meta.sender;
        if (!sender) throw new DomainTerminalError("PROCESSOR_SENDER_UNKNOWN", `processor ${ctx.key} has served no transaction yet; name its sender`, { httpStatus: 400 });
        meta.sender = sender;
        return { nextNonce: await resyncNonce(ctx, meta, sender, "resync") };
      }),

      snapshot: restate.handlers.object.shared(async (ctx: restate.ObjectSharedContext<TransactionProcessorState>): Promise<ProcessorSnapshot> => {
        const meta: ProcessorMeta = { ...EMPTY_META, ...(await ctx.get(STATE.meta)) };
        const inFlight = (await ctx.get(STATE.inFlight)) ?? {};
        return {
          key: ctx.key,
          sender: meta.sender,
          nextNonce: meta.nextNonce,
          inFlight: Object.values(inFlight).map(({ transactionId, nonce, hashes }) => ({ transactionId, nonce, hashes })),
          counters: meta.counters,
        };
      }),
    },
  });
  return object;
}

export type TransactionProcessor = ReturnType<typeof createTransactionProcessor>;
/** The processor's own definition, for the delayed calls it makes to itself. */
const transactionProcessorDefinition = { name: "TransactionProcessor" } as TransactionProcessor;
