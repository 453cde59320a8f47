/**
 * The side effects of TransactionProcessor, built from their dependencies. Each runs inside one
 * journaled step of the object; none of them sees a Restate context.
 */
import { keccak256, parseGwei, TransactionNotFoundError, type Hex } from "viem";
import type { Database } from "../../shared/db/client.ts";
import { recordNonceFill } from "../../shared/db/repositories/nonce-fills.ts";
import {
  markTransactionSignatureRefused,
  recordSignatureUnlessCancelled,
  recordTransactionSignature,
  voidTransactionSignatures,
} from "../../shared/db/repositories/transaction-signatures.ts";
import type { NonceFillReason } from "../../shared/db/schema/transactions.ts";
import type { ChainAccess, ChainRegistry } from "../../shared/evm/chain-access.ts";
import { classifyChainError, type ChainErrorCode } from "../../shared/evm/classify-error.ts";
import { DomainTerminalError } from "../../shared/errors.ts";
import type { SignerRegistry } from "../../shared/signers/signer-registry.ts";
import { storeWebhookDeliveries } from "../workflows/webhook-delivery/emit-event.ts";
import { bumpFees, capFees, feesForNextBlock } from "./fees.ts";
import type { FeeFields, ProcessorSender, Signature, SignedCall, SubmitRequest } from "./types.ts";

export type ProcessorStepDependencies = {
  db: Database;
  chains: ChainRegistry;
  signers: SignerRegistry;
  metrics: { nonceReplacement(outcome: "replaced" | "refused"): void; nonceFilled(reason: NonceFillReason): void };
  settings: { feeBumpPercent: number; maxFeePerGasGwei: number };
};

export type BroadcastOutcome =
  | { kind: "sent" }
  | { kind: "nonce-too-low" }
  /** Below what the next block needs: sign again on the same nonce at the current fees. */
  | { kind: "underpriced" }
  | { kind: "rejected"; code: ChainErrorCode; message: string };

/** A zero-value transfer to the sender itself: what fills (or cancels at) a nonce. */
export const selfTransfer = (signerAddress: string): SignedCall => ({ to: signerAddress as Hex, data: "0x", value: "0", gas: "21000" });

export function createProcessorSteps(dependencies: ProcessorStepDependencies) {
  const { db, signers, metrics, settings } = dependencies;
  const capWei = parseGwei(String(settings.maxFeePerGasGwei));

  const chainFor = (chainId: number): ChainAccess => {
    const chain = dependencies.chains.get(chainId);
    if (!chain) throw new DomainTerminalError("CHAIN_NOT_CONFIGURED", `chain ${chainId} is not configured on this worker`, { httpStatus: 422 });
    return chain;
  };

  const sign = async (sender: ProcessorSender, call: SignedCall, nonce: number, fees: FeeFields): Promise<{ raw: Hex; hash: Hex }> => {
    // Decided inside the step: a replay reuses the journaled signature even on a worker that has
    // lost the key since, and a worker without the key never half-signs.
    if (!signers.has(sender.signerAddress)) {
      throw new DomainTerminalError("SIGNER_NOT_FOUND", `no key is registered for signer ${sender.signerAddress}`, { httpStatus: 422 });
    }
    const raw = await signers.signTransaction(sender.signerAddress, {
      type: "eip1559",
      chainId: sender.chainId,
      nonce,
      to: call.to ?? undefined,
      data: call.data,
      value: BigInt(call.value),
      gas: BigInt(call.gas),
      maxFeePerGas: BigInt(fees.maxFeePerGas),
      maxPriorityFeePerGas: BigInt(fees.maxPriorityFeePerGas),
    });
    return { raw, hash: keccak256(raw) };
  };

  /** The fees the next block accepts now, uncapped (a replacement compares against them). */
  const currentFees = async (chain: ChainAccess): Promise<FeeFields> => {
    const [estimate, pending] = await Promise.all([
      chain.client.estimateFeesPerGas({ type: "eip1559" }),
      chain.client.getBlock({ blockTag: "pending" }).catch(() => null),
    ]);
    return feesForNextBlock(estimate, pending?.baseFeePerGas ?? null);
  };

  return {
    pendingNonce: (sender: ProcessorSender) => chainFor(sender.chainId).client.getTransactionCount({ address: sender.signerAddress as Hex, blockTag: "pending" }),
    latestNonce: (sender: ProcessorSender) => chainFor(sender.chainId).client.getTransactionCount({ address: sender.signerAddress as Hex, blockTag: "latest" }),

    /**
     * The first signature of a nonce, recorded with the transaction before anything is sent —
     * unless a cancellation was asked for first: then nothing is signed or recorded.
     */
    signFirst: async (request: SubmitRequest, nonce: number): Promise<{ kind: "signed"; signature: Signature } | { kind: "cancelled" }> => {
      const chain = chainFor(request.chainId);
      const fees =
        request.maxFeePerGas && request.maxPriorityFeePerGas
          ? { maxFeePerGas: request.maxFeePerGas, maxPriorityFeePerGas: request.maxPriorityFeePerGas }
          : capFees(feesForNextBlock(await chain.client.estimateFeesPerGas({ type: "eip1559" }), null), capWei);
      const signed = await sign(request, request, nonce, fees);
      const signature: Signature = { ...signed, ...fees, kind: "original" };
      const recorded = await recordSignatureUnlessCancelled(db, { transactionId: request.transactionId, nonce, ...signature });
      return recorded ? { kind: "signed", signature } : { kind: "cancelled" };
    },

    /**
     * The same nonce signed again above `previous` and the network's current fees: a bump of the
     * call, or a cancellation (a zero-value self-transfer). `null` at the fee cap.
     */
    signReplacement: async (parameters: {
      sender: ProcessorSender;
      transactionId: string | null;
      nonce: number;
      call: SignedCall;
      previous: FeeFields | null;
      kind: "replacement" | "cancellation";
      fillReason?: NonceFillReason;
    }): Promise<{ signature: Signature; deliveryIds: string[] } | null> => {
      const chain = chainFor(parameters.sender.chainId);
      const current = await currentFees(chain);
      const fees = parameters.previous ? bumpFees(parameters.previous, current, settings.feeBumpPercent, capWei) : BigInt(current.maxFeePerGas) > capWei ? null : current;
      if (!fees) return null;
      const call = parameters.kind === "cancellation" ? selfTransfer(parameters.sender.signerAddress) : parameters.call;
      const signature: Signature = { ...(await sign(parameters.sender, call, parameters.nonce, fees)), ...fees, kind: parameters.kind };
      if (parameters.transactionId) await recordTransactionSignature(db, { transactionId: parameters.transactionId, nonce: parameters.nonce, ...signature });
      let deliveryIds: string[] = [];
      if (parameters.kind === "cancellation") {
        const reason = parameters.fillReason ?? "cancelled";
        const { organizationId, signerAddress, chainId } = parameters.sender;
        const signer = signerAddress.toLowerCase();
        const stored = await recordNonceFill(db, { chainId, organizationId, signerAddress: signer, nonce: parameters.nonce, hash: signature.hash, reason, transactionId: parameters.transactionId });
        if (stored) {
          // One event per filled nonce, named by the nonce: a fee bump of the fill announces nothing new.
          deliveryIds = await storeWebhookDeliveries(db, {
            id: `evt_nf_${chainId}_${signer}_${parameters.nonce}`,
            type: "nonce.filled",
            data: { chainId, organizationId, signerAddress: signer, nonce: parameters.nonce, hash: signature.hash, reason, transactionId: parameters.transactionId },
          });
          metrics.nonceFilled(reason);
        }
      }
      return { signature, deliveryIds };
    },

    /**
     * Sends signed bytes. When the node refuses them but already knows our hash (an earlier send
     * whose answer was lost, "already known", or the same bytes mined), that is success, decided by
     * asking for the hash rather than by reading the error's wording. Transient failures throw.
     */
    broadcast: async (chainId: number, signature: Pick<Signature, "raw" | "hash">, options?: { replacement?: boolean }): Promise<BroadcastOutcome> => {
      const chain = chainFor(chainId);
      const outcome = await broadcastRaw(chain, signature);
      if (options?.replacement) metrics.nonceReplacement(outcome.kind === "sent" ? "replaced" : "refused");
      return outcome;
    },

    /** Bytes the node refused for good: recorded so no later run waits for them. */
    markRefused: (hash: Hex) => markTransactionSignatureRefused(db, hash),

    /** Signatures of a nonce that was handed back unsent: void, like refused ones. */
    voidSignatures: (transactionId: string, nonce: number) => voidTransactionSignatures(db, { transactionId, nonce }),
  };
}

export type ProcessorSteps = ReturnType<typeof createProcessorSteps>;

export async function broadcastRaw(chain: ChainAccess, signed: Pick<Signature, "raw" | "hash">): Promise<BroadcastOutcome> {
  try {
    await chain.client.sendRawTransaction({ serializedTransaction: signed.raw });
    return { kind: "sent" };
  } catch (error) {
    if (await isKnownTransaction(chain, signed.hash)) return { kind: "sent" };
    const classified = classifyChainError(error);
    if (classified.code === "NONCE_TOO_LOW") return { kind: "nonce-too-low" };
    if (classified.code === "FEE_CAP_TOO_LOW") return { kind: "underpriced" };
    if (classified.terminal) return { kind: "rejected", code: classified.code, message: classified.message };
    throw error;
  }
}

export async function isKnownTransaction(chain: ChainAccess, hash: Hex): Promise<boolean> {
  try {
    await chain.client.getTransaction({ hash });
    return true;
  } catch (error) {
    if (error instanceof TransactionNotFoundError) return false;
    throw error;
  }
}
