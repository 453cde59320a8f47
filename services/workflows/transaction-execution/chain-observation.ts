/**
 * How a transaction's workflow reads the chain. Every read that can change a transaction's phase is
 * made on a consistent view: "our nonce was taken by someone else" is believed only after the block
 * that took it was read by number, at confirmation depth, and found to hold another transaction. A
 * node that answers `null` for a receipt (a lagging replica behind a load balancer) can delay a
 * decision, never cause a second signature.
 */
import { BlockNotFoundError, TransactionNotFoundError, TransactionReceiptNotFoundError, type Hex } from "viem";
import type { ChainAccess } from "../../../shared/evm/chain-access.ts";
import { classifyChainError } from "../../../shared/evm/classify-error.ts";
import type { Observation, RebroadcastOutcome } from "./decide.ts";

export type ObserveNonceParameters = { signerAddress: Hex; nonce: number; hashes: Hex[]; confirmations: number };

export async function observeNonce(chain: ChainAccess, parameters: ObserveNonceParameters): Promise<Observation> {
  const address = parameters.signerAddress;
  const head = Number(await chain.client.getBlockNumber());
  const countAt = (block: number) => (block < 0 ? Promise.resolve(0) : chain.client.getTransactionCount({ address, blockNumber: BigInt(block) }));
  const latestNonce = await countAt(head);

  for (const hash of [...parameters.hashes].reverse()) {
    const receipt = await receiptOf(chain, hash);
    if (!receipt) continue;
    const blockNumber = Number(receipt.blockNumber);
    const seenHead = Math.max(head, blockNumber);
    return {
      head: seenHead,
      latestNonce,
      kind: "mined",
      hash,
      blockNumber,
      blockHash: receipt.blockHash,
      reverted: receipt.status === "reverted",
      confirmations: seenHead - blockNumber + 1,
    };
  }

  if (latestNonce > parameters.nonce) {
    // The nonce is used and no receipt of ours was found. Which transaction used it is read from
    // the block that holds it, found by the sender's nonce count at block numbers.
    const deep = head - parameters.confirmations + 1;
    if (deep < 0 || (await countAt(deep)) <= parameters.nonce) {
      return { head, latestNonce, kind: "inconclusive", why: "the nonce was used less than the confirmation depth ago" };
    }
    const block = await blockThatUsedNonce(countAt, parameters.nonce, deep);
    const holder = await chain.client.getBlock({ blockNumber: BigInt(block), includeTransactions: true });
    const used = holder.transactions.find((tx) => tx.from.toLowerCase() === address.toLowerCase() && tx.nonce === parameters.nonce);
    if (!used) return { head, latestNonce, kind: "inconclusive", why: `block ${block} does not show the transaction with nonce ${parameters.nonce}` };
    if (!parameters.hashes.includes(used.hash)) return { head, latestNonce, kind: "consumed", byHash: used.hash, blockNumber: block };
    const receipt = await receiptOf(chain, used.hash);
    if (!receipt) return { head, latestNonce, kind: "inconclusive", why: `block ${block} holds ${used.hash}, whose receipt the node does not serve yet` };
    return {
      head,
      latestNonce,
      kind: "mined",
      hash: used.hash,
      blockNumber: block,
      blockHash: receipt.blockHash,
      reverted: receipt.status === "reverted",
      confirmations: head - block + 1,
    };
  }

  for (const hash of parameters.hashes) {
    if (await isKnownTransaction(chain, hash)) return { head, latestNonce, kind: "pending" };
  }
  return { head, latestNonce, kind: "dropped" };
}

/**
 * The first block whose end state counts more than `nonce` transactions of the sender, searched
 * backwards from `upper` (where the count is already above it): galloping, then bisecting. A node
 * that keeps only recent state fails the old reads, and the caller looks again later.
 */
export async function blockThatUsedNonce(countAt: (block: number) => Promise<number>, nonce: number, upper: number): Promise<number> {
  let high = upper;
  let low = upper - 1;
  for (let step = 1; low >= 0 && (await countAt(low)) > nonce; step *= 2) {
    high = low;
    low = Math.max(-1, upper - step * 2);
  }
  // countAt(low) <= nonce < countAt(high)
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if ((await countAt(middle)) > nonce) high = middle;
    else low = middle;
  }
  return high;
}

async function receiptOf(chain: ChainAccess, hash: Hex) {
  return chain.client.getTransactionReceipt({ hash }).catch((error: unknown) => {
    if (error instanceof TransactionReceiptNotFoundError) return null;
    throw error;
  });
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
 * Whether the block at `blockNumber` is still the one with `blockHash`. A chain without that block
 * number (shortened by a reorg) answers false; an RPC failure throws, and is never taken for a reorg.
 */
export async function isCanonical(chain: ChainAccess, blockNumber: number, blockHash: Hex): Promise<boolean> {
  try {
    const block = await chain.client.getBlock({ blockNumber: BigInt(blockNumber) });
    return block.hash === blockHash;
  } catch (error) {
    if (error instanceof BlockNotFoundError) return false;
    throw error;
  }
}

/**
 * Sends the same signed bytes again. A node that already has them is fine ("sent"); a node that
 * refuses them because fees rose above what they offer says "underpriced", which the workflow
 * answers with a fee replacement; any other lasting refusal (funds gone, say) is "refused" with its
 * code, and the workflow reports the transaction blocked until the bytes go through.
 */
export async function rebroadcast(chain: ChainAccess, raw: Hex): Promise<RebroadcastOutcome> {
  try {
    await chain.client.sendRawTransaction({ serializedTransaction: raw });
    return { kind: "sent" };
  } catch (error) {
    const classified = classifyChainError(error);
    if (classified.code === "NONCE_TOO_LOW") return { kind: "nonce-used" };
    if (classified.code === "FEE_CAP_TOO_LOW") return { kind: "underpriced" };
    if (classified.terminal) return { kind: "refused", code: classified.code, message: classified.message };
    throw error;
  }
}

/** The revert reason of a mined, reverted transaction, replayed on the state before its block. */
export async function revertReasonOf(chain: ChainAccess, hash: Hex, blockNumber: number): Promise<string> {
  const transaction = await chain.client.getTransaction({ hash });
  try {
    await chain.client.call({
      account: transaction.from,
      to: transaction.to ?? undefined,
      data: transaction.input,
      value: transaction.value,
      gas: transaction.gas,
      blockNumber: BigInt(blockNumber - 1),
    });
    return "reverted (the replay did not revert; state changed within the block)";
  } catch (error) {
    const classified = classifyChainError(error);
    return classified.revertReason ?? classified.message;
  }
}
