/**
 * The side effects of TransactionExecutionWorkflow, built from their dependencies (as Temporal's
 * activities are): the workflow receives these bodies and runs each inside one journaled step, so
 * its state machine can run against fakes as well as on anvil.
 */
import { eq, getTableColumns, sql } from "drizzle-orm";
import type { Hex } from "viem";
import type { Database } from "../../../shared/db/client.ts";
import { insertDeadLetter } from "../../../shared/db/repositories/dead-letters.ts";
import { requestTransactionCancellation } from "../../../shared/db/repositories/transactions.ts";
import { transactions, transactionSignatures, transactionTransitions } from "../../../shared/db/schema/index.ts";
import { isUniqueViolation } from "../../../shared/db/unique-violation.ts";
import type { ChainAccess, ChainRegistry } from "../../../shared/evm/chain-access.ts";
import type { IndexerSource } from "../../../shared/evm/indexer-source.ts";
import type { SignerRegistry } from "../../../shared/signers/signer-registry.ts";
import type { TransactionApproval } from "../../../shared/signers/approval.ts";
import type { CustodySteps } from "./custody-steps.ts";
import type { SignOnlySteps } from "./sign-only-steps.ts";
import type { SmartWalletSteps } from "./smart-wallet-steps.ts";
import type { Signature } from "../../transaction-processor/types.ts";
import { isCanonical, observeNonce, rebroadcast, revertReasonOf, type ObserveNonceParameters } from "./chain-observation.ts";
import { startOf, type StartDecision, type StoredPhase } from "./decide.ts";
import { recordPhaseChanges, type PhaseMetrics } from "./phase-recorder.ts";
import { transactionError, type TransactionErrorCode } from "./errors.ts";
import { operationConflict, storedOperationOfRecord, type StoredOperation } from "./operation.ts";

export type { StoredOperation } from "./operation.ts";

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
    /** What an approval wait of an earlier run waited for (routes with approval only). */
    approval: TransactionApproval | null;
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
  metrics: PhaseMetrics;
  /** The custody route's steps; null when no custody provider is configured. */
  custody?: CustodySteps | null;
  /** The sign-only route's steps; null when no HSM is configured. */
  signOnly?: SignOnlySteps | null;
  /** The smart-wallet route's steps; null when no bundler is configured. */
  smartWallet?: SmartWalletSteps | null;
};

/** What the first step of a run found and did. */
export type RunStart = LoadedTransaction & {
  start: StartDecision;
  /** When the run began (read inside the step, so a replay keeps it). */
  startedAt: number;
  signerKnown: boolean;
  /** Deliveries of the `submitting` change this step recorded (null when it recorded none). */
  submitting: { deliveryIds: string[] } | null;
};

/** A submission the first step refused: nothing was stored or changed. */
export type RunRefused = { refused: { code: TransactionErrorCode; message: string; fields: string[] } };

const refused = (code: TransactionErrorCode, message: string, fields: string[]): RunRefused => ({ refused: { code, message, fields } });

export function createTransactionSteps(dependencies: TransactionStepDependencies) {
  const { db } = dependencies;
  const chainFor = (chainId: number): ChainAccess => {
    const chain = dependencies.chains.get(chainId);
    if (!chain) throw transactionError("CHAIN_NOT_CONFIGURED", `chain ${chainId} is not configured on this worker`);
    return chain;
  };
  /** The operation stored (inserted when absent), or why the stored one refuses it. */
  const storeOrLoad = async (submitted: StoredOperation): Promise<{ loaded: LoadedTransaction; refused?: undefined } | RunRefused> => {
    try {
      const fresh = await storeOperation(db, submitted);
      if (fresh) return { loaded: fresh };
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      return refused("IDEMPOTENCY_KEY_REUSED", `idempotency key "${submitted.idempotencyKey}" belongs to another transaction of organization ${submitted.organizationId}`, ["idempotencyKey"]);
    }
    const loaded = await loadTransaction(db, submitted.transactionId);
    if (!loaded) throw new Error(`transaction ${submitted.transactionId} was neither stored nor found`);
    const conflict = operationConflict(loaded.operation, submitted);
    return conflict ? refused(conflict.code, conflict.message, conflict.fields) : { loaded };
  };
  return {
    load: (transactionId: string) => loadTransaction(db, transactionId),
    /**
     * The first step of every run: store the submitted operation (or find it stored: a second
     * run, a re-drive), decide where the run starts, and when it starts from the beginning record
     * `submitting` in the same step. A submission that differs from what is stored under its id,
     * or reuses another transaction's idempotency key, is refused and changes nothing.
     */
    begin: async (transactionId: string, submitted: StoredOperation): Promise<RunStart | RunRefused> => {
      const stored = await storeOrLoad(submitted);
      if (stored.refused) return stored;
      const { loaded } = stored;
      const startedAt = Date.now();
      const start = startOf(loaded.record, loaded.signatures);
      const executor = loaded.operation.executor;
      // Custody: the provider holds the key (the vault's address is checked before the provider is asked).
      // Sign-only: a key in the HSM and an approval policy. EOA: a key of the EOA route only (an
      // HSM key is never signed for without its approvals).
      const signerKnown =
        executor.route === "smart-wallet"
          ? Boolean(dependencies.smartWallet)
          : executor.route === "custody"
          ? dependencies.custody?.providerName === executor.provider
          : executor.route === "sign-only"
            ? dependencies.signOnly?.providerName === executor.provider && dependencies.signOnly.knows(loaded.operation.signerAddress)
            : dependencies.signers.has(loaded.operation.signerAddress);
      let submitting: RunStart["submitting"] = null;
      if (start.kind === "start" && loaded.record.lastTransitionPhase !== "submitting") {
        const status = { phase: "submitting" as const, transactionId, txHash: null, nonce: null, error: null, blockNumber: null };
        const deliveryIds = await recordPhaseChanges(db, dependencies.metrics, { transactionId, runId: loaded.runId, firstStep: 1, startedAt, changes: [{ status }] });
        submitting = { deliveryIds };
      }
      return { ...loaded, start, startedAt, signerKnown, submitting };
    },
    storeOrLoad,
    indexerIsChainHead: dependencies.indexer.name === "chain-head",
    custody: dependencies.custody ?? null,
    signOnly: dependencies.signOnly ?? null,
    smartWallet: dependencies.smartWallet ?? null,
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

/** A live signature as the load query returns it. */
type StoredSignatureJson = { nonce: number; hash: Hex; raw: Hex; maxFeePerGas: string; maxPriorityFeePerGas: string; kind: Signature["kind"] };

/**
 * Inserts a submitted operation under its id: the loaded transaction of a first submission (no
 * record phase change yet, nothing signed), or null when the id is stored already.
 */
async function storeOperation(db: Database, operation: StoredOperation): Promise<LoadedTransaction | null> {
  const gas = operation.gasLimit || operation.maxFeePerGas || operation.maxPriorityFeePerGas
    ? {
        ...(operation.gasLimit ? { gasLimit: operation.gasLimit } : {}),
        ...(operation.maxFeePerGas ? { maxFeePerGas: operation.maxFeePerGas } : {}),
        ...(operation.maxPriorityFeePerGas ? { maxPriorityFeePerGas: operation.maxPriorityFeePerGas } : {}),
      }
    : null;
  const [inserted] = await db
    .insert(transactions)
    .values({
      id: operation.transactionId,
      organizationId: operation.organizationId,
      chainId: operation.chainId,
      signerAddress: operation.signerAddress,
      target: operation.target,
      data: operation.data,
      value: operation.value,
      gas,
      executor: operation.executor,
      idempotencyKey: operation.idempotencyKey,
      correlationId: operation.correlationId,
    })
    .onConflictDoNothing({ target: transactions.id })
    .returning({ id: transactions.id });
  if (!inserted) return null;
  return {
    runId: crypto.randomUUID(),
    operation,
    record: { phase: "submitting", txHash: null, nonce: null, blockNumber: null, errorCode: null, errorMessage: null, cancelRequested: false, cancelReason: null, approval: null, lastTransitionPhase: null },
    signatures: [],
  };
}

export async function loadTransaction(db: Database, transactionId: string): Promise<LoadedTransaction | null> {
  // One round trip: the record, its live signatures and the phase of its latest transition.
  const [row] = await db
    .select({
      stored: getTableColumns(transactions),
      signatures: sql<StoredSignatureJson[]>`coalesce((
        select json_agg(json_build_object('nonce', s.nonce, 'hash', s.hash, 'raw', s.raw, 'maxFeePerGas', s.max_fee_per_gas,
          'maxPriorityFeePerGas', s.max_priority_fee_per_gas, 'kind', s.kind) order by s.id)
        from ${transactionSignatures} s where s.transaction_id = "transactions"."id" and s.refused_at is null), '[]'::json)`,
      lastTransitionPhase: sql<StoredPhase | null>`(select t.phase from ${transactionTransitions} t where t.transaction_id = "transactions"."id" order by t.sequence desc limit 1)`,
    })
    .from(transactions)
    .where(eq(transactions.id, transactionId))
    .limit(1);
  if (!row) return null;
  const { stored, signatures, lastTransitionPhase } = row;
  return {
    runId: crypto.randomUUID(),
    operation: storedOperationOfRecord(stored),
    record: {
      phase: stored.phase,
      txHash: (stored.txHash ?? null) as Hex | null,
      nonce: stored.nonce ?? null,
      blockNumber: stored.blockNumber ?? null,
      errorCode: stored.errorCode ?? null,
      errorMessage: stored.errorMessage ?? null,
      cancelRequested: stored.cancelRequestedAt !== null,
      cancelReason: stored.cancelReason ?? null,
      approval: stored.approval ?? null,
      lastTransitionPhase: lastTransitionPhase ?? null,
    },
    signatures: (typeof signatures === "string" ? (JSON.parse(signatures) as StoredSignatureJson[]) : signatures).map((signature) => ({ ...signature, nonce: Number(signature.nonce) })),
  };
}



