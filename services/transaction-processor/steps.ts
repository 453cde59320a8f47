/**
 * The side effects of TransactionProcessor, each run inside one journaled step by the object.
 * Plain functions of their inputs: no Restate context here.
 */
import { keccak256, TransactionNotFoundError, type Hex } from "viem";
import type { ChainAccess } from "../../shared/evm/chain-access.ts";
import { classifyChainError, type ChainErrorCode } from "../../shared/evm/classify-error.ts";
import type { SignerRegistry } from "../../shared/signers/signer-registry.ts";
import type { SubmitRequest } from "./api.ts";
import type { FeeFields } from "./state.ts";

export async function fetchPendingNonce(chain: ChainAccess, address: string): Promise<number> {
  return chain.client.getTransactionCount({ address: address as Hex, blockTag: "pending" });
}

export async function fetchLatestNonce(chain: ChainAccess, address: string): Promise<number> {
  return chain.client.getTransactionCount({ address: address as Hex, blockTag: "latest" });
}

/** The node's current EIP-1559 estimate, or the operation's fixed fees, never above the cap. */
export async function resolveFees(chain: ChainAccess, request: SubmitRequest, capWei: bigint): Promise<FeeFields> {
  if (request.maxFeePerGas && request.maxPriorityFeePerGas) {
    return { maxFeePerGas: request.maxFeePerGas, maxPriorityFeePerGas: request.maxPriorityFeePerGas };
  }
  const estimate = await chain.client.estimateFeesPerGas({ type: "eip1559" });
  const maxFee = estimate.maxFeePerGas < capWei ? estimate.maxFeePerGas : capWei;
  const priority = estimate.maxPriorityFeePerGas < maxFee ? estimate.maxPriorityFeePerGas : maxFee;
  return { maxFeePerGas: maxFee.toString(), maxPriorityFeePerGas: priority.toString() };
}

/** The node's current fee estimate, uncapped (a replacement compares against it). */
export async function currentNetworkFees(chain: ChainAccess): Promise<FeeFields> {
  const estimate = await chain.client.estimateFeesPerGas({ type: "eip1559" });
  return { maxFeePerGas: estimate.maxFeePerGas.toString(), maxPriorityFeePerGas: estimate.maxPriorityFeePerGas.toString() };
}

export type SignedTransaction = { raw: Hex; hash: Hex };

export async function signAtNonce(
  signers: SignerRegistry,
  request: SubmitRequest,
  nonce: number,
  fees: FeeFields,
): Promise<SignedTransaction> {
  const raw = await signers.signTransaction(request.signerAddress, {
    type: "eip1559",
    chainId: request.chainId,
    nonce,
    to: request.to ?? undefined,
    data: request.data,
    value: BigInt(request.value),
    gas: BigInt(request.gas),
    maxFeePerGas: BigInt(fees.maxFeePerGas),
    maxPriorityFeePerGas: BigInt(fees.maxPriorityFeePerGas),
  });
  return { raw, hash: keccak256(raw) };
}

export type BroadcastOutcome =
  | { kind: "sent" }
  | { kind: "nonce-too-low" }
  | { kind: "rejected"; code: ChainErrorCode; message: string };

/**
 * Sends signed bytes. When the node refuses them but already knows our hash (an earlier send whose
 * answer was lost, "already known", or the same bytes mined), that is success, decided by asking
 * for the hash rather than by reading the error's wording. Transient failures throw (and are retried).
 */
export async function broadcastRaw(chain: ChainAccess, signed: SignedTransaction): Promise<BroadcastOutcome> {
  try {
    await chain.client.sendRawTransaction({ serializedTransaction: signed.raw });
    return { kind: "sent" };
  } catch (error) {
    if (await isKnownTransaction(chain, signed.hash)) return { kind: "sent" };
    const classified = classifyChainError(error);
    if (classified.code === "NONCE_TOO_LOW") return { kind: "nonce-too-low" };
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

/**
 * Fees of a replacement: both fields raised by at least `percent` over the previous ones (nodes
 * refuse smaller bumps as underpriced) and at least to the node's current estimate.
 * `null` when that would exceed the cap: the caller blocks instead of spending more.
 */
export function bumpFees(previous: FeeFields, current: FeeFields, percent: number, capWei: bigint): FeeFields | null {
  const factor = BigInt(Math.round(percent * 100));
  const bump = (value: bigint) => value + (value * factor + 9_999n) / 10_000n;
  const max = (a: bigint, b: bigint) => (a > b ? a : b);
  const priority = max(bump(BigInt(previous.maxPriorityFeePerGas)), BigInt(current.maxPriorityFeePerGas));
  const maxFee = max(max(bump(BigInt(previous.maxFeePerGas)), BigInt(current.maxFeePerGas)), priority);
  if (maxFee > capWei) return null;
  return { maxFeePerGas: maxFee.toString(), maxPriorityFeePerGas: priority.toString() };
}
