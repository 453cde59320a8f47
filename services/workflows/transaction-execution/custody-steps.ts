/**
 * The side effects of the custody route, built from their dependencies like the other steps: the
 * workflow runs each inside one journaled step.
 */
import { keccak256, serializeTransaction, TransactionNotFoundError, type Hex, type Transaction } from "viem";
import type { Database } from "../../../shared/db/client.ts";
import { recordTransactionSignature } from "../../../shared/db/repositories/transaction-signatures.ts";
import type { ChainAccess, ChainRegistry } from "../../../shared/evm/chain-access.ts";
import { DomainTerminalError } from "../../../shared/errors.ts";
import { CustodyProviderError, type CustodyCallRequest, type CustodyProvider, type CustodyTransaction } from "../../../shared/signers/custody/fireblocks.ts";
import type { Signature } from "../../transaction-processor/types.ts";
import { prepareCall } from "../../transaction-processor/prepare-call.ts";
import { transactionError } from "./errors.ts";
import type { StoredOperation } from "./steps.ts";

export type CustodyStepDependencies = {
  db: Database;
  chains: ChainRegistry;
  provider: CustodyProvider;
  attributionSuffix: Hex;
};

/** The provider broadcast bytes the chain node knows: what the watch follows. */
export type AdoptedBroadcast = { nonce: number; signature: Signature };

export function createCustodySteps(dependencies: CustodyStepDependencies) {
  const { provider, db } = dependencies;
  const chainFor = (chainId: number): ChainAccess => {
    const chain = dependencies.chains.get(chainId);
    if (!chain) throw transactionError("CHAIN_NOT_CONFIGURED", `chain ${chainId} is not configured on this worker`);
    return chain;
  };
  return {
    providerName: provider.name,
    /**
     * Checks what can be checked before the provider sees anything: the vault holds the signer's
     * address, the target has code, the call does not revert in estimation. Answers the call as
     * the provider is to sign it (attribution suffix appended, gas limit set).
     */
    prepare: async (operation: StoredOperation, vaultId: string): Promise<Omit<CustodyCallRequest, "externalTxId" | "vaultId" | "note">> => {
      if (operation.target === null) throw transactionError("CUSTODY_OPERATION_UNSUPPORTED", "the custody route sends contract calls and transfers; it cannot deploy a contract");
      const addresses = await provider.vaultAddresses(vaultId).catch(refusedAsTerminal(`vault ${vaultId}`));
      if (!addresses.includes(operation.signerAddress.toLowerCase())) {
        throw transactionError("SIGNER_NOT_FOUND", `custody vault ${vaultId} holds no address ${operation.signerAddress} (it holds ${addresses.join(", ") || "none"})`);
      }
      const call = await prepareCall(chainFor(operation.chainId), operation.signerAddress, operation, dependencies.attributionSuffix);
      return { target: operation.target, data: call.data, value: call.value, gasLimit: call.gas };
    },
    /**
     * The provider transaction of our transaction id: found by its external id, or created with it.
     * A create that failed after the provider stored it is found by the next attempt, never made twice.
     */
    createOrFind: async (request: CustodyCallRequest): Promise<{ id: string; created: boolean }> => {
      const existing = await provider.findByExternalId(request.externalTxId);
      if (existing) return { id: existing.id, created: false };
      try {
        return { id: (await provider.create(request)).id, created: true };
      } catch (error) {
        if (!(error instanceof CustodyProviderError) || error.transient) throw error;
        // Refused: a duplicate external id (created by an attempt whose answer was lost) is found now.
        const found = await provider.findByExternalId(request.externalTxId);
        if (found) return { id: found.id, created: false };
        if (error.status === 401 || error.status === 403) throw error;
        throw transactionError("PROVIDER_REFUSED", error.message);
      }
    },
    poll: (providerTransactionId: string): Promise<CustodyTransaction> => provider.get(providerTransactionId),
    find: (externalTxId: string): Promise<CustodyTransaction | null> => provider.findByExternalId(externalTxId),
    cancel: (providerTransactionId: string): Promise<boolean> => provider.cancel(providerTransactionId),
    /**
     * The provider's broadcast as our node sees it: its nonce and signed bytes, stored as the
     * transaction's signature (so reconciliation can send them again after a reorg). Null while the
     * node does not know the hash yet.
     */
    adopt: async (transactionId: string, operation: StoredOperation, txHash: Hex): Promise<AdoptedBroadcast | null> => {
      const chain = chainFor(operation.chainId);
      let transaction: Transaction;
      try {
        transaction = await chain.client.getTransaction({ hash: txHash });
      } catch (error) {
        if (error instanceof TransactionNotFoundError) return null;
        throw error;
      }
      if (transaction.from.toLowerCase() !== operation.signerAddress.toLowerCase()) {
        throw new Error(`the provider's transaction ${txHash} is sent from ${transaction.from}, not from the signer ${operation.signerAddress}`);
      }
      const raw = await rawBytesOf(chain, transaction);
      const maxFeePerGas = (transaction.maxFeePerGas ?? transaction.gasPrice ?? 0n).toString();
      const maxPriorityFeePerGas = (transaction.maxPriorityFeePerGas ?? transaction.gasPrice ?? 0n).toString();
      const signature: Signature = { hash: txHash, raw, maxFeePerGas, maxPriorityFeePerGas, kind: "original" };
      await recordTransactionSignature(db, { transactionId, nonce: transaction.nonce, ...signature });
      return { nonce: transaction.nonce, signature };
    },
  };
}

export type CustodySteps = ReturnType<typeof createCustodySteps>;

/** The signed bytes of a transaction the node returned, checked against its hash. */
async function rawBytesOf(chain: ChainAccess, transaction: Transaction): Promise<Hex> {
  try {
    const { r, s, v, yParity } = transaction;
    const signature = yParity === undefined ? { r, s, v } : { r, s, yParity };
    const raw = serializeTransaction(transaction as Parameters<typeof serializeTransaction>[0], signature);
    if (keccak256(raw) === transaction.hash) return raw;
  } catch {
    // a type viem cannot serialise: ask the node
  }
  const raw = (await chain.client.request({ method: "eth_getRawTransactionByHash" as never, params: [transaction.hash] as never })) as Hex | null;
  if (!raw || keccak256(raw) !== transaction.hash) throw new Error(`cannot read the signed bytes of ${transaction.hash}`);
  return raw;
}

/** A provider refusal that waiting cannot change (4xx other than 408/429) ends the run; the rest is retried. */
function refusedAsTerminal(what: string) {
  return (error: unknown): never => {
    if (error instanceof CustodyProviderError && !error.transient && error.status !== 401 && error.status !== 403) {
      throw new DomainTerminalError("PROVIDER_REFUSED", `${what}: ${error.message}`, { httpStatus: 422 });
    }
    throw error;
  };
}
