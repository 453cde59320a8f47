/**
 * The custody provider as ddwf uses it, through the official Fireblocks SDK (`@fireblocks/ts-sdk`):
 * the SDK signs every request (a JWT over the path and the body's hash, with the API user's RSA
 * key) and speaks the REST API; this module only picks the calls and turns answers and failures
 * into plain JSON a workflow can journal. The API key and the secret key stay in the SDK's client.
 */
import { Fireblocks, TransactionOperation, TransferPeerPathType, type TransactionResponse } from "@fireblocks/ts-sdk";
import { formatEther, type Hex } from "viem";

/** A provider transaction as ddwf reads it (no amounts, no addresses: those are ours already). */
export type CustodyTransaction = {
  id: string;
  externalTxId: string | null;
  /** The provider's primary status (`PENDING_AUTHORIZATION`, `BROADCASTING`, …). */
  status: string;
  subStatus: string | null;
  txHash: Hex | null;
  /** The provider user who rejected it, when one did. */
  rejectedBy: string | null;
};

/** A contract call (or a transfer) from a vault, as ddwf asks the provider to sign and broadcast it. */
export type CustodyCallRequest = {
  /** Our transaction id: the provider refuses a second transaction with it. */
  externalTxId: string;
  vaultId: string;
  target: Hex;
  data: Hex;
  /** Wei, decimal. */
  value: string;
  gasLimit: string;
  note: string;
};

/**
 * A failed provider call. `status` is the HTTP status (null when no answer came back); `transient`
 * says whether waiting and asking again can help (no answer, 408, 429, 5xx).
 */
export class CustodyProviderError extends Error {
  readonly status: number | null;
  readonly transient: boolean;
  constructor(message: string, status: number | null) {
    super(message);
    this.name = "CustodyProviderError";
    this.status = status;
    this.transient = status === null || status === 408 || status === 429 || status >= 500;
  }
}

export type CustodyProvider = {
  readonly name: "fireblocks";
  /** The addresses the vault holds for the configured asset (lower case). */
  vaultAddresses(vaultId: string): Promise<string[]>;
  /** The provider transaction created with this external id, or null when there is none. */
  findByExternalId(externalTxId: string): Promise<CustodyTransaction | null>;
  /** Creates the provider transaction; a second one with the same external id is refused (4xx). */
  create(request: CustodyCallRequest): Promise<{ id: string; status: string }>;
  get(id: string): Promise<CustodyTransaction>;
  /** Asks the provider to cancel a transaction it has not signed yet; false when it refused. */
  cancel(id: string): Promise<boolean>;
};

export type FireblocksSettings = {
  apiKey: string;
  /** The API user's RSA private key (PEM text). */
  secretKey: string;
  basePath: string;
  /** The provider's id of the chain's base asset. */
  assetId: string;
  /** Upper bound of one HTTP call to the provider. */
  timeoutMs?: number;
};

export function createFireblocksProvider(settings: FireblocksSettings): CustodyProvider {
  const client = new Fireblocks({
    apiKey: settings.apiKey,
    secretKey: settings.secretKey,
    basePath: settings.basePath,
    additionalOptions: { baseOptions: { timeout: settings.timeoutMs ?? 15_000 }, userAgent: "ddwf" },
  });
  return {
    name: "fireblocks",
    vaultAddresses: (vaultId) =>
      call(async () => {
        const answer = await client.vaults.getVaultAccountAssetAddressesPaginated({ vaultAccountId: vaultId, assetId: settings.assetId });
        return (answer.data.addresses ?? []).map((entry) => (entry.address ?? "").toLowerCase()).filter((address) => address.length > 0);
      }),
    findByExternalId: async (externalTxId) => {
      try {
        return await call(async () => viewOf((await client.transactions.getTransactionByExternalId({ externalTxId })).data));
      } catch (error) {
        if (error instanceof CustodyProviderError && error.status === 404) return null;
        throw error;
      }
    },
    create: (request) =>
      call(async () => {
        const answer = await client.transactions.createTransaction({
          transactionRequest: {
            operation: TransactionOperation.ContractCall,
            assetId: settings.assetId,
            externalTxId: request.externalTxId,
            source: { type: TransferPeerPathType.VaultAccount, id: request.vaultId },
            destination: { type: TransferPeerPathType.OneTimeAddress, oneTimeAddress: { address: request.target } },
            // The API takes amounts in the asset's unit, not in wei.
            amount: formatEther(BigInt(request.value)),
            gasLimit: request.gasLimit,
            note: request.note,
            extraParameters: { contractCallData: request.data },
          },
        });
        if (!answer.data.id) throw new CustodyProviderError("the provider answered without a transaction id", answer.statusCode);
        return { id: answer.data.id, status: answer.data.status ?? "SUBMITTED" };
      }),
    get: (id) => call(async () => viewOf((await client.transactions.getTransaction({ txId: id })).data)),
    cancel: async (id) => {
      try {
        return await call(async () => (await client.transactions.cancelTransaction({ txId: id })).data.success === true);
      } catch (error) {
        if (error instanceof CustodyProviderError && !error.transient) return false;
        throw error;
      }
    },
  };
}

function viewOf(response: TransactionResponse): CustodyTransaction {
  if (!response.id || !response.status) throw new CustodyProviderError("the provider answered a transaction without id or status", 200);
  return {
    id: response.id,
    externalTxId: response.externalTxId ?? null,
    status: response.status,
    subStatus: response.subStatus || null,
    txHash: response.txHash ? (response.txHash.toLowerCase() as Hex) : null,
    rejectedBy: response.rejectedBy || null,
  };
}

/**
 * Runs one SDK call. The SDK rejects with a `FireblocksError` that is no `Error` (message, and the
 * response when one came back); it becomes a `CustodyProviderError` with the HTTP status.
 */
async function call<T>(action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof CustodyProviderError) throw error;
    const failure = error as { message?: unknown; response?: { statusCode?: unknown } } | null;
    const status = typeof failure?.response?.statusCode === "number" ? failure.response.statusCode : null;
    const message = typeof failure?.message === "string" ? failure.message : String(error);
    throw new CustodyProviderError(`custody provider: ${message}${status === null ? "" : ` (HTTP ${status})`}`, status);
  }
}
