/**
 * The side effects of TransactionExecutionWorkflow, built from their dependencies (as Temporal's
 * activities are): the workflow receives these bodies and runs each inside one journaled step, so
 * its state machine can run against fakes as well as on anvil.
 */
import { concatHex, type Hex } from "viem";
import type { Database } from "../../../shared/db/client.ts";
import { insertDeadLetter } from "../../../shared/db/repositories/dead-letters.ts";
import { listLiveTransactionSignatures } from "../../../shared/db/repositories/transaction-signatures.ts";
import { getTransaction, listTransactionTransitions, requestTransactionCancellation } from "../../../shared/db/repositories/transactions.ts";
import type { ChainAccess, ChainRegistry } from "../../../shared/evm/chain-access.ts";
import { classifyChainError } from "../../../shared/evm/classify-error.ts";
import type { IndexerSource } from "../../../shared/evm/indexer-source.ts";
import { DomainTerminalError } from "../../../shared/errors.ts";
import { executorSelectionSchema, type ExecutorSelection } from "../../../shared/signers/executor-selection.ts";
import type { SignerRegistry } from "../../../shared/signers/signer-registry.ts";
import type { Signature } from "../../transaction-processor/types.ts";
import { isCanonical, observeNonce, rebroadcast, revertReasonOf, type ObserveNonceParameters } from "./chain-observation.ts";
import type { StoredPhase } from "./decide.ts";
import { transactionError } from "./errors.ts";

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

/** What a run starts from: the operation, where its record stands, and what was signed for it. */
export type LoadedTransaction = {
  /**
   * Random, drawn once per run (journaled with the load). Restate derives a workflow run's
   * invocation id from its key, so a later run of the key has the same one: this tells them apart.
   */
  runId: string;
  operation: StoredOperation;
  record: {
    phase: StoredPhase;
    txHash: Hex | null;
    nonce: number | null;
    blockNumber: number | null;
    errorCode: string | null;
    errorMessage: string | null;
    cancelRequested: boolean;
    cancelReason: string | null;
    /** The phase of the latest transition, null before the first. */
    lastTransitionPhase: StoredPhase | null;
  };
  /** Signatures the node may still accept or has mined, oldest first. */
  signatures: (Signature & { nonce: number })[];
};

export type TransactionStepDependencies = {
  db: Database;
  chains: ChainRegistry;
  signers: SignerRegistry;
  indexer: IndexerSource;
  settings: { attributionSuffix: Hex };
};

export function createTransactionSteps(dependencies: TransactionStepDependencies) {
  const { db } = dependencies;
  const chainFor = (chainId: number): ChainAccess => {
    const chain = dependencies.chains.get(chainId);
    if (!chain) throw transactionError("CHAIN_NOT_CONFIGURED", `chain ${chainId} is not configured on this worker`);
    return chain;
  };
  return {
    load: (transactionId: string) => loadTransaction(db, transactionId),
    signerKnown: async (signerAddress: string) => dependencies.signers.has(signerAddress),
    prepareCall: (operation: StoredOperation) => prepareCall(chainFor(operation.chainId), operation, dependencies.settings.attributionSuffix),
    observe: (chainId: number, parameters: ObserveNonceParameters) => observeNonce(chainFor(chainId), parameters),
    rebroadcast: (chainId: number, raw: Hex) => rebroadcast(chainFor(chainId), raw),
    isCanonical: (chainId: number, blockNumber: number, blockHash: Hex) => isCanonical(chainFor(chainId), blockNumber, blockHash),
    revertReason: (chainId: number, hash: Hex, blockNumber: number) => revertReasonOf(chainFor(chainId), hash, blockNumber),
    indexedBlock: (chainId: number) => dependencies.indexer.indexedBlock(chainId),
    liveSignatures: async (transactionId: string) => (await loadTransaction(db, transactionId))?.signatures ?? [],
    requestCancellation: (transactionId: string, reason: string) => requestTransactionCancellation(db, { transactionId, reason }),
    fileDeadLetter: (letter: { transactionId: string; organizationId: string | null; chainId: number | null; causeCode: string; causeMessage: string }) =>
      insertDeadLetter(db, {
        id: `dl_tx_${letter.transactionId}`,
        kind: "transaction",
        referenceId: letter.transactionId,
        causeCode: letter.causeCode,
        causeMessage: letter.causeMessage,
        payload: { transactionId: letter.transactionId, organizationId: letter.organizationId, chainId: letter.chainId },
      }),
  };
}

export type TransactionSteps = ReturnType<typeof createTransactionSteps>;

export async function loadTransaction(db: Database, transactionId: string): Promise<LoadedTransaction | null> {
  const row = await getTransaction(db, transactionId);
  if (!row) return null;
  const gas = (row.gas ?? {}) as { gasLimit?: string; maxFeePerGas?: string; maxPriorityFeePerGas?: string };
  const executor = executorSelectionSchema.safeParse(row.executor);
  if (!executor.success) throw transactionError("EXECUTOR_SELECTION_INVALID", `stored executor selection is invalid: ${executor.error.message}`);
  const [signatures, transitions] = await Promise.all([listLiveTransactionSignatures(db, transactionId), listTransactionTransitions(db, transactionId)]);
  return {
    runId: crypto.randomUUID(),
    operation: {
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
    },
    record: {
      phase: row.phase,
      txHash: (row.txHash ?? null) as Hex | null,
      nonce: row.nonce ?? null,
      blockNumber: row.blockNumber ?? null,
      errorCode: row.errorCode ?? null,
      errorMessage: row.errorMessage ?? null,
      cancelRequested: row.cancelRequestedAt !== null,
      cancelReason: row.cancelReason ?? null,
      lastTransitionPhase: transitions.at(-1)?.phase ?? null,
    },
    signatures: signatures.map((signature) => ({
      nonce: signature.nonce,
      hash: signature.hash as Hex,
      raw: signature.raw as Hex,
      maxFeePerGas: signature.maxFeePerGas,
      maxPriorityFeePerGas: signature.maxPriorityFeePerGas,
      kind: signature.kind,
    })),
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
      throw transactionError("TARGET_HAS_NO_CODE", `target ${operation.target} has no contract code on chain ${operation.chainId}`);
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
    if (classified.code === "EXECUTION_REVERTED") throw transactionError("EXECUTION_REVERTED", classified.revertReason ?? classified.message);
    if (classified.terminal) throw new DomainTerminalError(classified.code, classified.message, { httpStatus: 422 });
    throw error;
  }
}


