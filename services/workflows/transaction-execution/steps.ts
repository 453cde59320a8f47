/**
 * Side effects of TransactionExecutionWorkflow; each runs inside one journaled step.
 */
import { concatHex, TransactionNotFoundError, TransactionReceiptNotFoundError, type Hex } from "viem";
import type { Database } from "../../../shared/db/client.ts";
import { getTransaction } from "../../../shared/db/repositories/transactions.ts";
import type { ChainAccess } from "../../../shared/evm/chain-access.ts";
import { classifyChainError } from "../../../shared/evm/classify-error.ts";
import { DomainTerminalError } from "../../../shared/errors.ts";
import { executorSelectionSchema, type ExecutorSelection } from "../../../shared/signers/executor-selection.ts";

/** The stored operation, as plain JSON for the journal. */
export type StoredOperation = {
  transactionId: string;
  organizationId: string;
  chainId: number;
  signerAddress: Hex;
  target: Hex | null;
  data: Hex;
  value: string;
  gasLimit: string | null;
  maxFeePerGas: string | null;
  maxPriorityFeePerGas: string | null;
  executor: ExecutorSelection;
  correlationId: string | null;
};

export async function loadOperation(db: Database, transactionId: string): Promise<StoredOperation | null> {
  const row = await getTransaction(db, transactionId);
  if (!row) return null;
  const gas = (row.gas ?? {}) as { gasLimit?: string; maxFeePerGas?: string; maxPriorityFeePerGas?: string };
  const executor = executorSelectionSchema.safeParse(row.executor);
  if (!executor.success) {
    throw new DomainTerminalError("EXECUTOR_SELECTION_INVALID", `stored executor selection is invalid: ${executor.error.message}`);
  }
  return {
    transactionId: row.id,
    organizationId: row.organizationId,
    chainId: row.chainId,
    signerAddress: row.signerAddress as Hex,
    target: (row.target ?? null) as Hex | null,
    data: row.data as Hex,
    value: row.value,
    gasLimit: gas.gasLimit ?? null,
    maxFeePerGas: gas.maxFeePerGas ?? null,
    maxPriorityFeePerGas: gas.maxPriorityFeePerGas ?? null,
    executor: executor.data,
    correlationId: row.correlationId ?? null,
  };
}

export type PreparedCall = { to: Hex | null; data: Hex; value: string; gas: string };

/**
 * Checks the target before any nonce is used and builds the call to sign: a contract call gets the
 * attribution suffix, a target without code is refused, and the gas limit is estimated unless fixed
 * (a call that reverts in estimation is refused with its reason).
 */
export async function prepareCall(chain: ChainAccess, operation: StoredOperation, attributionSuffix: Hex): Promise<PreparedCall> {
  const isContractCall = operation.target !== null && operation.data !== "0x";
  if (isContractCall) {
    const code = await chain.client.getCode({ address: operation.target! });
    if (code === undefined || code === "0x") {
      throw new DomainTerminalError("TARGET_HAS_NO_CODE", `target ${operation.target} has no contract code on chain ${operation.chainId}`, {
        httpStatus: 422,
      });
    }
  }
  const data = isContractCall && attributionSuffix !== "0x" ? concatHex([operation.data, attributionSuffix]) : operation.data;
  if (operation.gasLimit) return { to: operation.target, data, value: operation.value, gas: operation.gasLimit };
  try {
    const estimate = await chain.client.estimateGas({
      account: operation.signerAddress,
      to: operation.target ?? undefined,
      data,
      value: BigInt(operation.value),
    });
    // Headroom for state that moves between estimation and inclusion.
    return { to: operation.target, data, value: operation.value, gas: ((estimate * 120n) / 100n).toString() };
  } catch (error) {
    const classified = classifyChainError(error);
    if (classified.code === "EXECUTION_REVERTED") {
      throw new DomainTerminalError("EXECUTION_REVERTED", classified.revertReason ?? classified.message, { httpStatus: 422 });
    }
    if (classified.terminal) throw new DomainTerminalError(classified.code, classified.message, { httpStatus: 422 });
    throw error;
  }
}

/** Every answer carries the head block it was read at, so the next pause waits for a later one. */
export type ConfirmationCheck = { head: number } & (
  | { kind: "confirmed"; hash: Hex; blockNumber: number; blockHash: Hex; reverted: boolean }
  | { kind: "mined"; hash: Hex; blockNumber: number; confirmations: number }
  | { kind: "pending" }
  | { kind: "dropped" }
  | { kind: "nonce-consumed" }
);

/**
 * Where the transaction stands. The sender's mined nonce is read before the receipts, so "nonce
 * consumed and none of our hashes mined" really means another transaction took the nonce.
 */
export async function checkConfirmation(
  chain: ChainAccess,
  parameters: { hashes: Hex[]; nonce: number; signerAddress: Hex; confirmations: number },
): Promise<ConfirmationCheck> {
  const [minedNonce, headAtStart] = await Promise.all([
    chain.client.getTransactionCount({ address: parameters.signerAddress, blockTag: "latest" }),
    chain.client.getBlockNumber(),
  ]);
  const head = Number(headAtStart);
  for (const hash of [...parameters.hashes].reverse()) {
    const receipt = await chain.client.getTransactionReceipt({ hash }).catch((error: unknown) => {
      if (error instanceof TransactionReceiptNotFoundError) return null;
      throw error;
    });
    if (!receipt) continue;
    const latest = Math.max(head, Number(await chain.client.getBlockNumber()));
    const confirmations = latest - Number(receipt.blockNumber) + 1;
    if (confirmations < parameters.confirmations) {
      return { head: latest, kind: "mined", hash, blockNumber: Number(receipt.blockNumber), confirmations };
    }
    return { head: latest, kind: "confirmed", hash, blockNumber: Number(receipt.blockNumber), blockHash: receipt.blockHash, reverted: receipt.status === "reverted" };
  }
  if (minedNonce > parameters.nonce) return { head, kind: "nonce-consumed" };
  for (const hash of parameters.hashes) {
    const known = await chain.client.getTransaction({ hash }).then(
      () => true,
      (error: unknown) => {
        if (error instanceof TransactionNotFoundError) return false;
        throw error;
      },
    );
    if (known) return { head, kind: "pending" };
  }
  return { head, kind: "dropped" };
}

export type RebroadcastOutcome =
  | { kind: "sent" }
  | { kind: "underpriced" }
  | { kind: "nonce-used" }
  | { kind: "refused"; code: string; message: string };

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

export async function isCanonical(chain: ChainAccess, blockNumber: number, blockHash: Hex): Promise<boolean> {
  const block = await chain.client.getBlock({ blockNumber: BigInt(blockNumber) }).catch(() => null);
  return block?.hash === blockHash;
}
