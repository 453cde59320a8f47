/**
 * TransactionProcessor: one virtual object per `organizationId:signerAddress:chainId`. Its exclusive
 * handlers are the only place a nonce of that sender is handed out, so two transactions never share
 * a nonce, while unrelated senders (other keys) proceed in parallel.
 *
 * submit:   sync the nonce from the chain on first use → sign at the next nonce (fees + signature in
 *           one journaled step, kept in state before broadcast) → broadcast → return. It does not
 *           wait for confirmation. `nonce too low` for someone else's transaction → resync and sign
 *           again at the new nonce; a terminal rejection before broadcast gives the nonce back.
 * replace:  re-sign the same nonce with bumped fees (stuck transaction); at the fee cap, report it.
 * settle:   forget a finished transaction.
 * resync:   take the chain's pending nonce again (reconciliation, operator).
 * snapshot: (shared) what the key holds, for inspection.
 * Compensations: none; a nonce is either used on chain or handed to the next transaction.
 */
import * as restate from "@restatedev/restate-sdk";
import { parseGwei } from "viem";
import type { ChainRegistry } from "../../shared/evm/chain-access.ts";
import { DomainTerminalError } from "../../shared/errors.ts";
import { OUTAGE_TOLERANT_RETRY_POLICY, stepRetryPolicies, tryStep } from "../../shared/restate/step-retry.ts";
import type { SignerRegistry } from "../../shared/signers/signer-registry.ts";
import type { ProcessorSnapshot, ReplaceRequest, ReplaceResult, SubmitRequest, SubmitResult } from "./api.ts";
import { STATE, type InFlightTransaction, type TransactionProcessorState } from "./state.ts";
import { broadcastRaw, bumpFees, currentNetworkFees, fetchLatestNonce, fetchPendingNonce, resolveFees, signAtNonce, type BroadcastOutcome } from "./steps.ts";

export type TransactionProcessorDependencies = {
  chains: ChainRegistry;
  signers: SignerRegistry;
  metrics: { nonceReplacement(outcome: "replaced" | "refused"): void };
  settings: {
    feeBumpPercent: number;
    maxFeePerGasGwei: number;
    /** How long a broadcast keeps being retried before its outcome is left to the workflow. */
    broadcastRetryMs: number;
  };
};

type Ctx = restate.ObjectContext<TransactionProcessorState>;

/** Attempts at a fresh nonce when other senders keep taking ours; beyond it something is wrong. */
const MAX_NONCE_RESYNCS = 5;

export function createTransactionProcessor(dependencies: TransactionProcessorDependencies) {
  const capWei = parseGwei(String(dependencies.settings.maxFeePerGasGwei));
  const chainFor = (chainId: number) => {
    const chain = dependencies.chains.get(chainId);
    if (!chain) throw new DomainTerminalError("CHAIN_NOT_CONFIGURED", `chain ${chainId} is not configured`);
    return chain;
  };
  const counters = async (ctx: Ctx) => (await ctx.get(STATE.counters)) ?? { replacements: 0, resyncs: 0, submitted: 0 };

  const resyncNonce = async (ctx: Ctx, signerAddress: string, chainId: number, label: string): Promise<number> => {
    const chain = chainFor(chainId);
    const nonce = await ctx.run(label, () => fetchPendingNonce(chain, signerAddress));
    ctx.set(STATE.nextNonce, nonce);
    const c = await counters(ctx);
    ctx.set(STATE.counters, { ...c, resyncs: c.resyncs + 1 });
    return nonce;
  };

  /** Broadcast with retries; when they run out the outcome is unknown, never a new nonce. */
  const broadcast = async (ctx: Ctx, chainId: number, signed: { raw: `0x${string}`; hash: `0x${string}` }, label: string, replacement = false) => {
    const chain = chainFor(chainId);
    const outcome = await tryStep<BroadcastOutcome>(
      ctx,
      label,
      async () => {
        const result = await broadcastRaw(chain, signed);
        if (replacement) dependencies.metrics.nonceReplacement(result.kind === "sent" ? "replaced" : "refused");
        return result;
      },
      stepRetryPolicies.bounded(dependencies.settings.broadcastRetryMs),
    );
    return outcome ?? ({ kind: "unknown" } as const);
  };

  return restate.object({
    name: "TransactionProcessor",
    options: { retryPolicy: OUTAGE_TOLERANT_RETRY_POLICY },
    handlers: {
      submit: async (ctx: Ctx, request: SubmitRequest): Promise<SubmitResult> => {
        const inFlight = (await ctx.get(STATE.inFlight)) ?? {};
        const existing = inFlight[request.transactionId];
        if (existing && existing.attempt === request.attempt) {
          return { nonce: existing.nonce, hash: existing.hashes.at(-1)!, raw: existing.raw, broadcast: "unknown" };
        }
        if (existing) delete inFlight[request.transactionId];
        const chain = chainFor(request.chainId);
        if (!dependencies.signers.has(request.signerAddress)) {
          throw new DomainTerminalError("SIGNER_NOT_FOUND", `no key is registered for signer ${request.signerAddress}`);
        }
        let nonce = (await ctx.get(STATE.nextNonce)) ?? (await resyncNonce(ctx, request.signerAddress, request.chainId, "sync-nonce"));

        for (let round = 0; round <= MAX_NONCE_RESYNCS; round++) {
          const signed = await ctx.run(`sign-nonce-${nonce}`, async () => {
            const fees = await resolveFees(chain, request, capWei);
            return { ...(await signAtNonce(dependencies.signers, request, nonce, fees)), fees };
          });
          const record: InFlightTransaction = {
            transactionId: request.transactionId,
            attempt: request.attempt,
            nonce,
            hashes: [signed.hash],
            raw: signed.raw,
            call: { to: request.to, data: request.data, value: request.value, gas: request.gas },
            ...signed.fees,
          };
          ctx.set(STATE.inFlight, { ...inFlight, [request.transactionId]: record });
          ctx.set(STATE.nextNonce, nonce + 1);

          const outcome = await broadcast(ctx, request.chainId, signed, `broadcast-nonce-${nonce}`);
          if (outcome.kind === "sent" || outcome.kind === "unknown") {
            const c = await counters(ctx);
            ctx.set(STATE.counters, { ...c, submitted: c.submitted + 1 });
            return { nonce, hash: signed.hash, raw: signed.raw, broadcast: outcome.kind };
          }
          // Not broadcast: the nonce is free again. Nothing else can have taken a later nonce in
          // between (this handler is exclusive), so giving it back leaves no gap.
          ctx.set(STATE.inFlight, inFlight);
          if (outcome.kind === "rejected") {
            ctx.set(STATE.nextNonce, nonce);
            throw new DomainTerminalError(outcome.code, `the node refused the transaction: ${outcome.message}`);
          }
          ctx.console.warn("nonce taken by another sender; resyncing", { nonce, transactionId: request.transactionId });
          nonce = await resyncNonce(ctx, request.signerAddress, request.chainId, `resync-after-nonce-${nonce}`);
        }
        throw new DomainTerminalError("NONCE_RESYNC_EXHAUSTED", `nonce kept being taken by another sender after ${MAX_NONCE_RESYNCS} resyncs`);
      },

      replace: async (ctx: Ctx, request: ReplaceRequest): Promise<ReplaceResult> => {
        const inFlight = (await ctx.get(STATE.inFlight)) ?? {};
        const record = inFlight[request.transactionId];
        if (!record) return { kind: "unknown-transaction" };
        const [, signerAddress = "", chainIdText = "0"] = ctx.key.split(":");
        const chainId = Number(chainIdText);
        const chain = chainFor(chainId);
        const round = record.hashes.length;
        const latest = await ctx.run(`latest-nonce-${record.nonce}-${round}`, () => fetchLatestNonce(chain, signerAddress));
        if (latest > record.nonce) return { kind: "nonce-consumed" };
        const current = await ctx.run(`fees-${record.nonce}-${round}`, () => currentNetworkFees(chain));
        const fees = bumpFees(record, current, dependencies.settings.feeBumpPercent, capWei);
        if (!fees) return { kind: "at-fee-cap", maxFeePerGas: record.maxFeePerGas };
        const signed = await ctx.run(`sign-replacement-${record.nonce}-${round}`, () =>
          signAtNonce(
            dependencies.signers,
            { transactionId: record.transactionId, attempt: record.attempt, signerAddress, chainId, ...record.call },
            record.nonce,
            fees,
          ),
        );
        const updated: InFlightTransaction = { ...record, ...fees, hashes: [...record.hashes, signed.hash], raw: signed.raw };
        ctx.set(STATE.inFlight, { ...inFlight, [request.transactionId]: updated });
        const outcome = await broadcast(ctx, chainId, signed, `broadcast-replacement-${record.nonce}-${round}`, true);
        if (outcome.kind === "nonce-too-low") return { kind: "nonce-consumed" };
        if (outcome.kind === "rejected") {
          // The replacement was refused: keep the earlier bytes as the ones to re-broadcast.
          ctx.set(STATE.inFlight, { ...inFlight, [request.transactionId]: { ...updated, raw: record.raw } });
          return { kind: "at-fee-cap", maxFeePerGas: fees.maxFeePerGas };
        }
        const c = await counters(ctx);
        ctx.set(STATE.counters, { ...c, replacements: c.replacements + 1 });
        ctx.console.info("replaced stuck transaction", { transactionId: request.transactionId, nonce: record.nonce, hash: signed.hash });
        return { kind: "replaced", hash: signed.hash, raw: signed.raw, maxFeePerGas: fees.maxFeePerGas };
      },

      settle: async (ctx: Ctx, request: { transactionId: string }): Promise<void> => {
        const inFlight = (await ctx.get(STATE.inFlight)) ?? {};
        if (!(request.transactionId in inFlight)) return;
        delete inFlight[request.transactionId];
        ctx.set(STATE.inFlight, inFlight);
      },

      resync: async (ctx: Ctx): Promise<{ nextNonce: number }> => {
        const [, signerAddress = "", chainIdText = "0"] = ctx.key.split(":");
        return { nextNonce: await resyncNonce(ctx, signerAddress, Number(chainIdText), "resync") };
      },

      snapshot: restate.handlers.object.shared(async (ctx: restate.ObjectSharedContext<TransactionProcessorState>): Promise<ProcessorSnapshot> => {
        const inFlight = (await ctx.get(STATE.inFlight)) ?? {};
        return {
          key: ctx.key,
          nextNonce: (await ctx.get(STATE.nextNonce)) ?? null,
          inFlight: Object.values(inFlight).map(({ transactionId, nonce, hashes }) => ({ transactionId, nonce, hashes })),
          counters: (await ctx.get(STATE.counters)) ?? { replacements: 0, resyncs: 0, submitted: 0 },
        };
      }),
    },
  });
}

export type TransactionProcessor = ReturnType<typeof createTransactionProcessor>;
