/**
 * TransactionProcessor: one virtual object per `organizationId:signerAddress:chainId`. Its exclusive
 * handlers are the only place a nonce of that sender is handed out or signed, so two transactions
 * never share a nonce, while unrelated senders (other keys) proceed in parallel.
 *
 * submit:   reserve the next nonce (synced from the chain on first use) → sign it, and record the
 *           signature with the transaction in the same step (unless a cancellation came first: then
 *           the nonce is handed back) → broadcast. A broadcast refused as underpriced is signed again
 *           on the same nonce at the current fees; `nonce too low` for someone else's transaction
 *           resyncs and signs the next nonce; a lasting refusal hands the nonce back.
 * replace:  sign the same nonce again with bumped fees: the call (stuck) or a zero-value
 *           self-transfer (cancellation); at the fee cap, say so.
 * fill:     a zero-value self-transfer on a nonce nobody holds (reconciliation).
 * release:  after a cancelled submit: hand back a nonce that was reserved but never sent (or fill
 *           it when a later nonce went out meanwhile); answers `signed` when it was signed.
 * settle:   forget a finished transaction's nonce.
 * resync:   take the chain's pending nonce again (reconciliation, operator).
 * snapshot: (shared) what the key holds, for inspection.
 * Compensations: none; a nonce is either used on chain or handed to the next transaction.
 */
import * as restate from "@restatedev/restate-sdk";
import { DomainTerminalError } from "../../shared/errors.ts";
import { OUTAGE_TOLERANT_RETRY_POLICY, stepRetryPolicies, tryStep } from "../../shared/restate/step-retry.ts";
import { startWebhookDeliveries } from "../workflows/webhook-delivery/emit-event.ts";
import { fillHolder, STATE, type InFlightTransaction, type TransactionProcessorState } from "./state.ts";
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

export type TransactionProcessorDependencies = {
  steps: ProcessorSteps;
  settings: {
    /** How long a broadcast keeps being retried before its outcome is left to the workflow. */
    broadcastRetryMs: number;
  };
};

type Ctx = restate.ObjectContext<TransactionProcessorState>;

/** Attempts at a fresh nonce when other senders keep taking ours; beyond it something is wrong. */
const MAX_NONCE_RESYNCS = 5;
/** Re-signings of a first broadcast refused as underpriced before the workflow takes over. */
const MAX_UNDERPRICED_RESIGNS = 3;

const EMPTY_COUNTERS = { replacements: 0, resyncs: 0, submitted: 0, fills: 0 };

export function createTransactionProcessor(dependencies: TransactionProcessorDependencies) {
  const { steps } = dependencies;

  const counters = async (ctx: Ctx) => ({ ...EMPTY_COUNTERS, ...(await ctx.get(STATE.counters)) });
  const count = async (ctx: Ctx, counter: keyof TransactionProcessorState["counters"]) => {
    const current = await counters(ctx);
    ctx.set(STATE.counters, { ...current, [counter]: current[counter] + 1 });
  };
  const inFlightOf = async (ctx: Ctx) => (await ctx.get(STATE.inFlight)) ?? {};
  const senderOf = (request: ProcessorSender): ProcessorSender => ({
    organizationId: request.organizationId,
    signerAddress: request.signerAddress.toLowerCase(),
    chainId: request.chainId,
  });

  const resyncNonce = async (ctx: Ctx, sender: ProcessorSender, label: string): Promise<number> => {
    const nonce = await ctx.run(label, () => steps.pendingNonce(sender));
    ctx.set(STATE.nextNonce, nonce);
    await count(ctx, "resyncs");
    return nonce;
  };

  /** Broadcast with retries; when they run out the outcome is unknown, never a new nonce. */
  const broadcast = async (ctx: Ctx, chainId: number, signature: Signature, label: string, replacement = false): Promise<BroadcastOutcome | { kind: "unknown" }> => {
    const outcome = await tryStep(ctx, label, () => steps.broadcast(chainId, signature, { replacement }), stepRetryPolicies.bounded(dependencies.settings.broadcastRetryMs));
    return outcome ?? { kind: "unknown" };
  };

  const record = (ctx: Ctx, inFlight: Record<string, InFlightTransaction>, entry: InFlightTransaction) => {
    inFlight[entry.transactionId] = entry;
    ctx.set(STATE.inFlight, inFlight);
  };

  const withSignature = (entry: InFlightTransaction, signature: Signature): InFlightTransaction => ({
    ...entry,
    hashes: [...entry.hashes, signature.hash],
    raw: signature.raw,
    maxFeePerGas: signature.maxFeePerGas,
    maxPriorityFeePerGas: signature.maxPriorityFeePerGas,
  });

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
    await count(ctx, "fills");
    startWebhookDeliveries(ctx, signed.deliveryIds);
    const inFlight = await inFlightOf(ctx);
    const holder = of?.transactionId ?? fillHolder(nonce);
    const entry: InFlightTransaction = inFlight[holder] ?? {
      transactionId: holder,
      attempt: 0,
      nonce,
      hashes: [],
      raw: "0x",
      call: selfTransfer(sender.signerAddress),
      maxFeePerGas: signed.signature.maxFeePerGas,
      maxPriorityFeePerGas: signed.signature.maxPriorityFeePerGas,
    };
    record(ctx, inFlight, withSignature(entry, signed.signature));
    const nextNonce = await ctx.get(STATE.nextNonce);
    if (nextNonce === null || nextNonce <= nonce) ctx.set(STATE.nextNonce, nonce + 1);
    const outcome = await broadcast(ctx, sender.chainId, signed.signature, `fill-broadcast-${nonce}`);
    if (outcome.kind === "nonce-too-low") return { kind: "nonce-consumed" };
    ctx.console.info("nonce filled", { nonce, reason, hash: signed.signature.hash });
    return { kind: "sent", hash: signed.signature.hash };
  };

  return restate.object({
    name: "TransactionProcessor",
    options: { retryPolicy: OUTAGE_TOLERANT_RETRY_POLICY },
    handlers: {
      submit: async (ctx: Ctx, request: SubmitRequest): Promise<SubmitResult> => {
        const sender = senderOf(request);
        ctx.set(STATE.sender, sender);
        const inFlight = await inFlightOf(ctx);
        const existing = inFlight[request.transactionId];
        if (existing && existing.attempt === request.attempt && existing.hashes.length > 0) {
          // A retried call: the nonce was signed already (the workflow re-sends the same bytes).
          const latest: Signature = { hash: existing.hashes.at(-1)!, raw: existing.raw, maxFeePerGas: existing.maxFeePerGas, maxPriorityFeePerGas: existing.maxPriorityFeePerGas, kind: "original" };
          return { kind: "signed", nonce: existing.nonce, signatures: [latest], broadcast: "unknown" };
        }
        if (existing) delete inFlight[request.transactionId];
        const call = { to: request.to, data: request.data, value: request.value, gas: request.gas };
        let nonce = (await ctx.get(STATE.nextNonce)) ?? (await resyncNonce(ctx, sender, "sync-nonce"));

        for (let round = 0; round <= MAX_NONCE_RESYNCS; round++) {
          // The reservation is written before signing: a nonce is never handed out twice, even if
          // this invocation dies between the two.
          ctx.set(STATE.nextNonce, nonce + 1);
          let entry: InFlightTransaction = { transactionId: request.transactionId, attempt: request.attempt, nonce, hashes: [], raw: "0x", call, maxFeePerGas: "0", maxPriorityFeePerGas: "0" };
          record(ctx, inFlight, entry);

          const handBack = () => {
            delete inFlight[request.transactionId];
            ctx.set(STATE.inFlight, inFlight);
            ctx.set(STATE.nextNonce, nonce);
          };
          let first;
          try {
            first = await ctx.run(`sign-nonce-${nonce}`, () => steps.signFirst(request, nonce));
          } catch (error) {
            // A refused signer: nothing was signed and the nonce is free. A cancellation of this
            // call keeps the reservation: the step may have signed, and `release` sorts that out.
            if (error instanceof restate.TerminalError && !(error instanceof restate.CancelledError)) handBack();
            throw error;
          }
          if (first.kind === "cancelled") {
            handBack();
            return { kind: "cancelled" };
          }
          const signatures: Signature[] = [first.signature];
          entry = withSignature(entry, first.signature);
          record(ctx, inFlight, entry);

          let outcome = await broadcast(ctx, request.chainId, first.signature, `broadcast-nonce-${nonce}`);
          for (let resign = 1; outcome.kind === "underpriced" && resign <= MAX_UNDERPRICED_RESIGNS; resign++) {
            // Fees rose between estimate and send: the same nonce, signed again at today's fees.
            const previous = signatures.at(-1)!;
            const again = await ctx.run(`resign-nonce-${nonce}-${resign}`, () =>
              steps.signReplacement({ sender, transactionId: request.transactionId, nonce, call, previous, kind: "replacement" }),
            );
            if (!again) break;
            signatures.push(again.signature);
            entry = withSignature(entry, again.signature);
            record(ctx, inFlight, entry);
            outcome = await broadcast(ctx, request.chainId, again.signature, `broadcast-nonce-${nonce}-${resign}`);
          }

          if (outcome.kind === "sent" || outcome.kind === "unknown" || outcome.kind === "underpriced") {
            await count(ctx, "submitted");
            return { kind: "signed", nonce, signatures, broadcast: outcome.kind === "sent" ? "sent" : "unknown" };
          }
          // Not accepted: these bytes will never be mined (their nonce is used, or the node refuses
          // them for good). Mark them, so no later run waits for them.
          for (const signature of signatures) await ctx.run(`refused-${signature.hash}`, () => steps.markRefused(signature.hash));
          if (outcome.kind === "rejected") {
            // Nothing else can have taken a later nonce in between (this handler is exclusive), so
            // handing the nonce back leaves no gap.
            handBack();
            throw new DomainTerminalError(outcome.code, `the node refused the transaction: ${outcome.message}`, { httpStatus: 422 });
          }
          delete inFlight[request.transactionId];
          ctx.set(STATE.inFlight, inFlight);
          ctx.console.warn("nonce taken by another sender; resyncing", { nonce, transactionId: request.transactionId });
          nonce = await resyncNonce(ctx, sender, `resync-after-nonce-${nonce}`);
        }
        throw new DomainTerminalError("NONCE_RESYNC_EXHAUSTED", `nonce kept being taken by another sender after ${MAX_NONCE_RESYNCS} resyncs`, { httpStatus: 503 });
      },

      replace: async (ctx: Ctx, request: ReplaceRequest): Promise<ReplaceResult> => {
        const sender = senderOf(request);
        ctx.set(STATE.sender, sender);
        const round = (await counters(ctx)).replacements;
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
            ...(request.kind === "cancel" ? { fillReason: request.reason ?? "cancelled" } : {}),
          }),
        );
        if (!signed) return { kind: "at-fee-cap", maxFeePerGas: request.previous.maxFeePerGas };
        await count(ctx, "replacements");
        if (request.kind === "cancel") await count(ctx, "fills");
        startWebhookDeliveries(ctx, signed.deliveryIds);
        // This transaction holds the nonce again (a later run of its key may find it settled).
        const inFlight = await inFlightOf(ctx);
        const held = inFlight[request.transactionId] ?? {
          transactionId: request.transactionId,
          attempt: request.attempt,
          nonce: request.nonce,
          hashes: [],
          raw: "0x",
          call: request.call,
          ...request.previous,
        };
        record(ctx, inFlight, withSignature(held, signed.signature));
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
      },

      fill: async (ctx: Ctx, request: FillRequest): Promise<FillResult> => {
        const sender = senderOf(request);
        ctx.set(STATE.sender, sender);
        return fillNonce(ctx, sender, request.nonce, request.reason, { transactionId: request.transactionId, previous: request.previous });
      },

      release: async (ctx: Ctx, request: ReleaseRequest): Promise<ReleaseResult> => {
        const inFlight = await inFlightOf(ctx);
        const entry = inFlight[request.transactionId];
        if (!entry) return { kind: "released" };
        if (entry.hashes.length > 0) return { kind: "signed", nonce: entry.nonce };
        // Reserved and never sent (the broadcast step comes after the hashes are kept): whatever
        // the interrupted signing step stored can never be sent and is void.
        await ctx.run(`void-${request.transactionId}-${entry.nonce}`, () => steps.voidSignatures(request.transactionId, entry.nonce));
        delete inFlight[request.transactionId];
        ctx.set(STATE.inFlight, inFlight);
        if ((await ctx.get(STATE.nextNonce)) === entry.nonce + 1) {
          ctx.set(STATE.nextNonce, entry.nonce);
          return { kind: "released" };
        }
        // A later nonce was handed out meanwhile: fill this one so the sender's queue has no hole.
        const sender = await ctx.get(STATE.sender);
        if (sender) await fillNonce(ctx, sender, entry.nonce, "cancelled");
        return { kind: "filled", nonce: entry.nonce };
      },

      settle: async (ctx: Ctx, request: SettleRequest): Promise<void> => {
        const inFlight = await inFlightOf(ctx);
        if (!(request.transactionId in inFlight)) return;
        delete inFlight[request.transactionId];
        ctx.set(STATE.inFlight, inFlight);
      },

      resync: async (ctx: Ctx, request?: ResyncRequest): Promise<{ nextNonce: number }> => {
        const sender = request ? senderOf(request) : await ctx.get(STATE.sender);
        if (!sender) throw new DomainTerminalError("PROCESSOR_SENDER_UNKNOWN", `processor ${ctx.key} has served no transaction yet; name its sender`, { httpStatus: 400 });
        ctx.set(STATE.sender, sender);
        return { nextNonce: await resyncNonce(ctx, sender, "resync") };
      },

      snapshot: restate.handlers.object.shared(async (ctx: restate.ObjectSharedContext<TransactionProcessorState>): Promise<ProcessorSnapshot> => {
        const inFlight = (await ctx.get(STATE.inFlight)) ?? {};
        return {
          key: ctx.key,
          sender: (await ctx.get(STATE.sender)) ?? null,
          nextNonce: (await ctx.get(STATE.nextNonce)) ?? null,
          inFlight: Object.values(inFlight).map(({ transactionId, nonce, hashes }) => ({ transactionId, nonce, hashes })),
          counters: { ...EMPTY_COUNTERS, ...(await ctx.get(STATE.counters)) },
        };
      }),
    },
  });
}

export type TransactionProcessor = ReturnType<typeof createTransactionProcessor>;
