/**
 * The side effects of TransactionProcessor, built from their dependencies. Each runs inside one
 * journaled step of the object; none of them sees a Restate context.
 */
import { keccak256, parseGwei, TransactionNotFoundError, type Hex } from "viem";
import type { Database } from "../../shared/db/client.ts";
import { recordNonceFill } from "../../shared/db/repositories/nonce-fills.ts";
import {
  listLiveTransactionSignatures,
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
import { prepareCall } from "./prepare-call.ts";
import type { FeeFields, MinedTransaction, ProcessorSender, Signature, SignedCall, SignerRoute, SubmitRequest } from "./types.ts";

export type ProcessorStepDependencies = {
  db: Database;
  chains: ChainRegistry;
  /** The EOA route's keys. */
  signers: SignerRegistry;
  /** The sign-only route's HSM; null when none is configured. */
  hsm?: SignerRegistry | null;
  metrics: { nonceReplacement(outcome: "replaced" | "refused"): void; nonceFilled(reason: NonceFillReason): void };
  settings: { feeBumpPercent: number; maxFeePerGasGwei: number; attributionSuffix: Hex; confirmations: number };
};

/** What one submit step did: nothing (cancelled first), or signed (and what the node said). */
export type SubmitStepResult =
  | { kind: "cancelled" }
  | {
      kind: "signed";
      /** Every signature made on the nonce, oldest first; the last is the one sent. */
      signatures: Signature[];
      outcome: "sent" | "unknown" | "underpriced" | "nonce-too-low" | "rejected";
      rejection: { code: ChainErrorCode; message: string } | null;
      mined: MinedTransaction | null;
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

  const hsm = dependencies.hsm ?? null;
  /**
   * The signer of a request's route: the EOA keys for `eoa`, the HSM for `sign-only` (the workflow
   * asks only after the approvals released it); without a route (EOA requests, fills), the EOA keys,
   * else the HSM when it holds the sender's key (a fill on a sign-only sender's nonce). The workflow
   * never submits an HSM key's call without the route: its first step refuses that on `eoa`.
   */
  const signerFor = (route: SignerRoute | undefined, address: string): SignerRegistry | null => {
    if (route === "sign-only") return hsm?.has(address) ? hsm : null;
    if (signers.has(address)) return signers;
    return route === undefined && hsm?.has(address) ? hsm : null;
  };

  const sign = async (sender: ProcessorSender, call: SignedCall, nonce: number, fees: FeeFields, route?: SignerRoute): Promise<{ raw: Hex; hash: Hex }> => {
    // Decided inside the step: a replay reuses the journaled signature even on a worker that has
    // lost the key since, and a worker without the key never half-signs.
    const signer = signerFor(route, sender.signerAddress);
    if (!signer) {
      throw new DomainTerminalError("SIGNER_NOT_FOUND", `no key is registered for signer ${sender.signerAddress}`, { httpStatus: 422 });
    }
    const raw = await signer.signTransaction(sender.signerAddress, {
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

  const minedAtDepth = (chain: ChainAccess, hash: Hex) => minedAtDepthWith(chain, hash, settings.confirmations);
  /** The live signatures a transaction has on a nonce, as stored, oldest first. */
  const storedSignaturesAt = async (transactionId: string, nonce: number): Promise<Signature[]> =>
    (await listLiveTransactionSignatures(db, transactionId))
      .filter((signature) => signature.nonce === nonce)
      .map((stored) => ({ hash: stored.hash as Hex, raw: stored.raw as Hex, maxFeePerGas: stored.maxFeePerGas, maxPriorityFeePerGas: stored.maxPriorityFeePerGas, kind: stored.kind }));

  /** A retry's send: the latest stored bytes again; the nonce counts as ours if any of them is known. */
  const sendStored = async (chain: ChainAccess, stored: Signature[]): Promise<SubmitStepResult> => {
    let outcome = await sendOnce(chain, stored.at(-1)!);
    if (outcome.kind !== "sent" && outcome.kind !== "unknown" && (await anyKnown(chain, stored))) outcome = { kind: "sent" };
    const mined = outcome.kind === "sent" ? await minedAmong(chain, stored).catch(() => null) : null;
    return {
      kind: "signed",
      signatures: stored,
      // Refused bytes stay for the workflow's watch to sort out; nothing stored is ever dropped here.
      outcome: outcome.kind === "sent" ? "sent" : "unknown",
      rejection: null,
      mined,
    };
  };

  /** Whether the node knows (pending or mined) any of the signatures. */
  const anyKnown = async (chain: ChainAccess, signatures: readonly Signature[]): Promise<boolean> => {
    for (const signature of signatures) if (await isKnownTransaction(chain, signature.hash).catch(() => false)) return true;
    return false;
  };

  const minedAmong = async (chain: ChainAccess, signatures: readonly Signature[]): Promise<MinedTransaction | null> => {
    for (const signature of [...signatures].reverse()) {
      const mined = await minedAtDepth(chain, signature.hash);
      if (mined) return mined;
    }
    return null;
  };
  const feeEstimates = createFeeEstimateCache(FEE_ESTIMATE_MAX_AGE_MS);

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
     * Everything a nonce needs, in one step: prepare the call (target code, suffix, gas; a refusal
     * here throws before anything is signed), sign it, record the signature with the transaction
     * (unless a cancellation came first: then nothing is recorded and the nonce is free), send it
     * (signed again on the same nonce at the current fees when the node says it is underpriced),
     * and look once whether it is already mined at depth. Once the signature is recorded nothing
     * in here throws: a failed send is `unknown` and the workflow sends the same bytes again.
     */
    submitAtNonce: async (request: SubmitRequest, nonce: number): Promise<SubmitStepResult> => {
      const chain = chainFor(request.chainId);
      const sender = { organizationId: request.organizationId, signerAddress: request.signerAddress, chainId: request.chainId };
      // A retried step (the worker died after signing, perhaps after sending): what the first
      // attempt stored is what goes out. Signing the call again could give other bytes on the
      // same nonce, and a mined first one would then read as "nonce taken by someone else".
      const stored = await storedSignaturesAt(request.transactionId, nonce);
      if (stored.length > 0) return sendStored(chain, stored);
      const call = await prepareCall(chain, request.signerAddress as Hex, request.operation, settings.attributionSuffix);
      const { maxFeePerGas, maxPriorityFeePerGas } = request.operation;
      const fees = maxFeePerGas && maxPriorityFeePerGas ? { maxFeePerGas, maxPriorityFeePerGas } : capFees(await feeEstimates.get(chain), capWei);
      const first: Signature = { ...(await sign(sender, call, nonce, fees, request.route)), ...fees, kind: "original" };
      if (!(await recordSignatureUnlessCancelled(db, { transactionId: request.transactionId, nonce, ...first }))) return { kind: "cancelled" };

      const signatures = [first];
      let outcome = await sendOnce(chain, first);
      for (let resign = 1; outcome.kind === "underpriced" && resign <= MAX_UNDERPRICED_RESIGNS; resign++) {
        // Fees rose between the estimate and the send: the same nonce, signed again at today's fees.
        const current = await currentFees(chain).catch(() => null);
        const bumped = current && bumpFees(signatures.at(-1)!, current, settings.feeBumpPercent, capWei);
        if (!bumped) break;
        const again: Signature = { ...(await sign(sender, call, nonce, bumped, request.route)), ...bumped, kind: "replacement" };
        // Never sent unless stored: with the database away the workflow replaces it later.
        const stored = await recordTransactionSignature(db, { transactionId: request.transactionId, nonce, ...again }).then(() => true, () => false);
        if (!stored) break;
        signatures.push(again);
        outcome = await sendOnce(chain, again);
      }
      if (outcome.kind === "nonce-too-low") {
        // Another attempt of this same step may have stored and sent other bytes of the call on
        // the nonce: one whose worker lost Restate mid-step and ran on while Restate started the
        // step again elsewhere (both read nothing stored). Those bytes are ours too; counting the
        // nonce as another sender's would sign the call again at a new nonce.
        const stored = await storedSignaturesAt(request.transactionId, nonce);
        const ours = [...stored.filter((signature) => !signatures.some((own) => own.hash === signature.hash)), ...signatures];
        if (await anyKnown(chain, ours)) {
          signatures.splice(0, signatures.length, ...ours);
          outcome = { kind: "sent" };
        }
      }
      if (outcome.kind === "nonce-too-low" || outcome.kind === "rejected") {
        // These bytes will never be mined (their nonce is used, or the node refuses them for
        // good); no later run may wait for them.
        for (const signature of signatures) await markTransactionSignatureRefused(db, signature.hash).catch(() => undefined);
      }
      const mined = outcome.kind === "sent" ? await minedAmong(chain, signatures).catch(() => null) : null;
      return {
        kind: "signed",
        signatures,
        outcome: outcome.kind,
        rejection: outcome.kind === "rejected" ? { code: outcome.code, message: outcome.message } : null,
        mined,
      };
    },

    /**
     * The follower's look at a key's nonces: which of the watched transactions have a signature
     * mined at confirmation depth in a block still canonical. Reads the head once, the sender's
     * mined nonce count at it, and receipts only for nonces already used.
     */
    followNonces: async (sender: ProcessorSender, watched: { transactionId: string; nonce: number; hashes: Hex[] }[]): Promise<{ transactionId: string; mined: MinedTransaction }[]> => {
      const chain = chainFor(sender.chainId);
      const head = await chain.client.getBlock({ blockTag: "latest" });
      const used = await chain.client.getTransactionCount({ address: sender.signerAddress as Hex, blockNumber: head.number });
      const found: { transactionId: string; mined: MinedTransaction }[] = [];
      const blocks = new Map<bigint, Hex>([[head.number, head.hash]]);
      for (const entry of watched.filter((candidate) => candidate.nonce < used)) {
        for (const hash of [...entry.hashes].reverse()) {
          const receipt = await chain.client.getTransactionReceipt({ hash }).catch(() => null);
          if (!receipt) continue;
          if (Number(head.number - receipt.blockNumber) + 1 < settings.confirmations) break;
          if (!blocks.has(receipt.blockNumber)) blocks.set(receipt.blockNumber, (await chain.client.getBlock({ blockNumber: receipt.blockNumber })).hash);
          if (blocks.get(receipt.blockNumber) !== receipt.blockHash) break;
          found.push({ transactionId: entry.transactionId, mined: { hash, blockNumber: Number(receipt.blockNumber), blockHash: receipt.blockHash, reverted: receipt.status === "reverted" } });
          break;
        }
      }
      return found;
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
      route?: SignerRoute | undefined;
    }): Promise<{ signature: Signature; deliveryIds: string[] } | null> => {
      const chain = chainFor(parameters.sender.chainId);
      const current = await currentFees(chain);
      const fees = parameters.previous ? bumpFees(parameters.previous, current, settings.feeBumpPercent, capWei) : BigInt(current.maxFeePerGas) > capWei ? null : current;
      if (!fees) return null;
      const call = parameters.kind === "cancellation" ? selfTransfer(parameters.sender.signerAddress) : parameters.call;
      const signature: Signature = { ...(await sign(parameters.sender, call, parameters.nonce, fees, parameters.route)), ...fees, kind: parameters.kind };
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

/** How long a fee estimate is reused for the next signatures of a chain. */
const FEE_ESTIMATE_MAX_AGE_MS = 500;

/** Re-signings of a first broadcast refused as underpriced before the workflow takes over. */
const MAX_UNDERPRICED_RESIGNS = 3;

/**
 * The node's fee estimate, asked at most once per `maxAgeMs` per chain: a busy sender signs many
 * transactions per block, and the estimate only moves from block to block. Process memory only
 * (it feeds a step whose result, the signature, is what is journaled); a first broadcast refused
 * as underpriced is signed again at fresh fees anyway.
 */
export function createFeeEstimateCache(maxAgeMs: number) {
  const cached = new Map<number, { at: number; fees: Promise<FeeFields> }>();
  return {
    get(chain: ChainAccess): Promise<FeeFields> {
      const now = performance.now();
      const hit = cached.get(chain.chainId);
      if (hit && now - hit.at < maxAgeMs) return hit.fees;
      const fees = chain.client.estimateFeesPerGas({ type: "eip1559" }).then((estimate) => feesForNextBlock(estimate, null));
      cached.set(chain.chainId, { at: now, fees });
      fees.catch(() => cached.delete(chain.chainId));
      return fees;
    },
  };
}

/** One send; a transport failure is `unknown` (the bytes may have reached the node). */
async function sendOnce(chain: ChainAccess, signature: Pick<Signature, "raw" | "hash">): Promise<BroadcastOutcome | { kind: "unknown" }> {
  try {
    return await broadcastRaw(chain, signature);
  } catch {
    return { kind: "unknown" };
  }
}

/**
 * Whether `hash` is mined at `confirmations` depth in a block still canonical, looked at once.
 * On a chain that includes transactions at once (anvil automine, many L2 sequencers) this answers
 * right after the send, and the workflow completes without waiting for a follower.
 */
async function minedAtDepthWith(chain: ChainAccess, hash: Hex, confirmations: number): Promise<MinedTransaction | null> {
  const receipt = await chain.client.getTransactionReceipt({ hash }).catch(() => null);
  if (!receipt) return null;
  const head = await chain.client.getBlock({ blockTag: "latest" });
  if (Number(head.number - receipt.blockNumber) + 1 < confirmations) return null;
  const blockHash = head.number === receipt.blockNumber ? head.hash : (await chain.client.getBlock({ blockNumber: receipt.blockNumber })).hash;
  if (blockHash !== receipt.blockHash) return null;
  return { hash, blockNumber: Number(receipt.blockNumber), blockHash: receipt.blockHash, reverted: receipt.status === "reverted" };
}

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
