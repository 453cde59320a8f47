/**
 * A local custody provider that speaks the Fireblocks REST API as far as ddwf uses it, for the
 * official SDK to talk to in tests:
 *
 *   POST /v1/transactions                                    create (CONTRACT_CALL from a vault; a used externalTxId is a 400)
 *   GET  /v1/transactions/:id                                one transaction
 *   GET  /v1/transactions/external_tx_id/:externalTxId       by external id (404 when none)
 *   POST /v1/transactions/:id/cancel                         cancel before signing
 *   GET  /v1/vault/accounts/:vaultId/:assetId/addresses_paginated
 *
 * Every request must carry the API key and a JWT the API user's RSA key signed (RS256) over the
 * request path, a fresh nonce and the SHA-256 of the body, as the SDK makes it; anything else is a
 * 401. Transactions move through Fireblocks' states: SUBMITTED → PENDING_AUTHORIZATION (the policy
 * asks for approval) → QUEUED → PENDING_SIGNATURE → BROADCASTING → CONFIRMING → COMPLETED, or
 * REJECTED / FAILED / CANCELLED with a sub-status. Once approved, the server signs with the vault's
 * own key and sends the transaction to the chain, so the chain sees a real transaction.
 *
 * Test hooks are methods: approve, reject, fail, hold a state, an outage answering 5xx.
 */
import { createHash, createPublicKey, generateKeyPairSync, verify as verifySignature, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createPublicClient, createWalletClient, http, parseEther, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";

export type ProviderState =
  | "SUBMITTED"
  | "PENDING_AUTHORIZATION"
  | "QUEUED"
  | "PENDING_SIGNATURE"
  | "BROADCASTING"
  | "CONFIRMING"
  | "COMPLETED"
  | "CANCELLING"
  | "CANCELLED"
  | "REJECTED"
  | "BLOCKED"
  | "FAILED";

export type ProviderTransaction = {
  id: string;
  externalTxId: string | null;
  status: ProviderState;
  subStatus: string;
  txHash: string;
  vaultId: string;
  assetId: string;
  destination: Hex;
  data: Hex;
  amount: string;
  gasLimit: string | null;
  note: string;
  createdAt: number;
  lastUpdated: number;
  rejectedBy: string;
  signedBy: string[];
  /** Every status it went through, in order. */
  history: ProviderState[];
};

export type FireblocksServerOptions = {
  chainRpcUrl: string;
  chainId: number;
  assetId: string;
  /** `manual`: each transaction waits in PENDING_AUTHORIZATION for `approve` or `reject`. */
  policy?: "manual" | "auto";
  /** Pause between two automatic state changes. */
  stepMs?: number;
};

export type FireblocksServer = {
  url: string;
  /** The base path the SDK is given (`<url>/v1`). */
  basePath: string;
  apiKey: string;
  /** The API user's RSA private key (PEM), for the worker's secret key file. */
  secretKeyPem: string;
  /** A vault with a fresh key; its address (lower case) must be funded by the test. */
  createVault(): { vaultId: string; address: Hex };
  transactions(): ProviderTransaction[];
  byExternalId(externalTxId: string): ProviderTransaction[];
  /** How many create requests reached the handler (refused duplicates included). */
  createRequests(): number;
  approve(id: string): void;
  reject(id: string, subStatus?: string, status?: "REJECTED" | "BLOCKED"): void;
  fail(id: string, subStatus: string): void;
  /** Stop every transaction that reaches `state` there until `release` (null: no hold). */
  holdAt(state: ProviderState | null): void;
  release(id: string): void;
  /** Answer every API request with this HTTP status (null ends the outage). */
  outage(status: number | null): void;
  /** API requests refused by the outage so far. */
  refusedByOutage(): number;
  /** API requests refused for a bad signature so far. */
  unauthorized(): number;
  close(): Promise<void>;
};

const JSON_HEADERS = { "content-type": "application/json" };

export async function startFireblocksServer(options: FireblocksServerOptions): Promise<FireblocksServer> {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const secretKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const apiKey = crypto.randomUUID();
  const apiUsers = new Map<string, KeyObject>([[apiKey, createPublicKey(publicKey.export({ type: "spki", format: "pem" }))]]);
  const chain = { ...foundry, id: options.chainId };
  const publicClient = createPublicClient({ chain, transport: http(options.chainRpcUrl), cacheTime: 0 });
  const vaults = new Map<string, { privateKey: Hex; address: Hex }>();
  const transactions = new Map<string, ProviderTransaction>();
  const seenNonces = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  const stepMs = options.stepMs ?? 20;
  let hold: ProviderState | null = null;
  const held = new Map<string, () => void>();
  let outageStatus: number | null = null;
  let refused = 0;
  let unauthorized = 0;
  let creates = 0;
  let closed = false;

  const later = (action: () => void | Promise<void>) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) void Promise.resolve(action()).catch((error: unknown) => console.error("fireblocks test server:", error));
    }, stepMs);
    timers.add(timer);
  };

  const setStatus = (tx: ProviderTransaction, status: ProviderState, subStatus = "") => {
    tx.status = status;
    tx.subStatus = subStatus;
    tx.lastUpdated = Date.now();
    tx.history.push(status);
  };

  /** Moves to `status`, then runs `next` — unless a hold stops the transaction there first. */
  const enter = (tx: ProviderTransaction, status: ProviderState, next?: () => void | Promise<void>) => {
    setStatus(tx, status);
    if (!next) return;
    if (hold === status) held.set(tx.id, () => later(next));
    else later(next);
  };

  const approved = (tx: ProviderTransaction) =>
    enter(tx, "QUEUED", () => enter(tx, "PENDING_SIGNATURE", () => enter(tx, "BROADCASTING", () => broadcast(tx))));

  const broadcast = async (tx: ProviderTransaction) => {
    if (tx.status !== "BROADCASTING") return;
    const vault = vaults.get(tx.vaultId)!;
    const wallet = createWalletClient({ chain, transport: http(options.chainRpcUrl), account: privateKeyToAccount(vault.privateKey) });
    try {
      const hash = await wallet.sendTransaction({
        to: tx.destination,
        data: tx.data,
        value: parseEther(tx.amount),
        ...(tx.gasLimit ? { gas: BigInt(tx.gasLimit) } : {}),
      });
      tx.txHash = hash;
      tx.signedBy = ["fireblocks-test-signer"];
      enter(tx, "CONFIRMING", () => confirm(tx, hash));
    } catch (error) {
      setStatus(tx, "FAILED", "REJECTED_BY_BLOCKCHAIN");
      console.error("fireblocks test server: broadcast refused", error);
    }
  };

  const confirm = async (tx: ProviderTransaction, hash: Hex) => {
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 100 });
    if (receipt.status === "success") setStatus(tx, "COMPLETED", "CONFIRMED");
    else setStatus(tx, "FAILED", "SMART_CONTRACT_EXECUTION_FAILED");
  };

  const view = (tx: ProviderTransaction) => ({
    id: tx.id,
    externalTxId: tx.externalTxId ?? undefined,
    status: tx.status,
    subStatus: tx.subStatus,
    txHash: tx.txHash,
    operation: "CONTRACT_CALL",
    note: tx.note,
    assetId: tx.assetId,
    source: { type: "VAULT_ACCOUNT", id: tx.vaultId, name: `vault ${tx.vaultId}`, subType: "" },
    sourceAddress: vaults.get(tx.vaultId)?.address ?? "",
    destination: { type: "ONE_TIME_ADDRESS", id: "", name: "N/A", subType: "" },
    destinationAddress: tx.destination,
    amountInfo: { amount: tx.amount, requestedAmount: tx.amount },
    createdAt: tx.createdAt,
    lastUpdated: tx.lastUpdated,
    createdBy: apiKey,
    signedBy: tx.signedBy,
    rejectedBy: tx.rejectedBy,
    gasLimit: tx.gasLimit ?? undefined,
    extraParameters: { contractCallData: tx.data },
  });

  /** Checks the SDK's request signature; answers the problem, or null when the request is signed. */
  const authProblem = (request: IncomingMessage, body: string): string | null => {
    const key = request.headers["x-api-key"];
    const authorization = request.headers.authorization;
    if (typeof key !== "string" || !apiUsers.has(key)) return "Unauthorized: unknown API key";
    if (typeof authorization !== "string" || !authorization.startsWith("Bearer ")) return "Unauthorized: the JWT is missing";
    const [header, payload, signature] = authorization.slice("Bearer ".length).split(".");
    if (!header || !payload || !signature) return "Unauthorized: invalid token format";
    const parsedHeader = JSON.parse(Buffer.from(header, "base64url").toString()) as { alg?: string };
    if (parsedHeader.alg !== "RS256") return "Unauthorized: the token must be RS256";
    if (!verifySignature("RSA-SHA256", Buffer.from(`${header}.${payload}`), apiUsers.get(key)!, Buffer.from(signature, "base64url"))) {
      return "Unauthorized: invalid signature";
    }
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as { uri?: string; nonce?: string; iat?: number; exp?: number; sub?: string; bodyHash?: string };
    const now = Math.floor(Date.now() / 1000);
    if (claims.sub !== key) return "Unauthorized: wrong user in the JWT";
    if (claims.uri !== request.url) return `Unauthorized: wrong URL in the JWT (${claims.uri} for ${request.url})`;
    if (typeof claims.iat !== "number" || claims.iat > now + 5) return "Unauthorized: issued in the future";
    if (typeof claims.exp !== "number" || claims.exp < now || claims.exp - claims.iat > 60) return "Unauthorized: the request has expired";
    if (!claims.nonce || seenNonces.has(claims.nonce)) return "Unauthorized: nonce already used";
    if (claims.bodyHash !== createHash("sha256").update(body).digest("hex")) return "Unauthorized: the body does not match the JWT's bodyHash";
    seenNonces.add(claims.nonce);
    return null;
  };

  const answer = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, JSON_HEADERS);
    response.end(JSON.stringify(body));
  };

  const createTransaction = (response: ServerResponse, body: string) => {
    creates += 1;
    const request = JSON.parse(body || "{}") as {
      operation?: string;
      assetId?: string;
      externalTxId?: string;
      source?: { type?: string; id?: string };
      destination?: { type?: string; oneTimeAddress?: { address?: string } };
      amount?: string;
      gasLimit?: string;
      note?: string;
      extraParameters?: { contractCallData?: string };
    };
    if (request.operation !== "CONTRACT_CALL") return answer(response, 400, { message: "Only CONTRACT_CALL is supported here", code: 1400 });
    if (request.assetId !== options.assetId) return answer(response, 400, { message: `Asset ${request.assetId} is not supported`, code: 1006 });
    if (request.source?.type !== "VAULT_ACCOUNT" || !vaults.has(request.source.id ?? "")) return answer(response, 404, { message: "Vault account Id was not found", code: 1004 });
    const destination = request.destination?.oneTimeAddress?.address;
    if (request.destination?.type !== "ONE_TIME_ADDRESS" || !destination || !/^0x[0-9a-fA-F]{40}$/.test(destination)) {
      return answer(response, 400, { message: "Invalid destination", code: 1401 });
    }
    if (request.externalTxId && [...transactions.values()].some((tx) => tx.externalTxId === request.externalTxId)) {
      return answer(response, 400, { message: `A transaction with external id ${request.externalTxId} already exists`, code: 1438 });
    }
    const now = Date.now();
    const tx: ProviderTransaction = {
      id: crypto.randomUUID(),
      externalTxId: request.externalTxId ?? null,
      status: "SUBMITTED",
      subStatus: "",
      txHash: "",
      vaultId: request.source.id!,
      assetId: request.assetId,
      destination: destination as Hex,
      data: (request.extraParameters?.contractCallData ?? "0x") as Hex,
      amount: request.amount ?? "0",
      gasLimit: request.gasLimit ?? null,
      note: request.note ?? "",
      createdAt: now,
      lastUpdated: now,
      rejectedBy: "",
      signedBy: [],
      history: ["SUBMITTED"],
    };
    transactions.set(tx.id, tx);
    later(() => {
      if (tx.status !== "SUBMITTED") return;
      if (options.policy === "auto") approved(tx);
      else setStatus(tx, "PENDING_AUTHORIZATION");
    });
    answer(response, 200, { id: tx.id, status: tx.status });
  };

  const cancelTransaction = (response: ServerResponse, id: string) => {
    const tx = transactions.get(id);
    if (!tx) return answer(response, 404, { message: "Transaction not found", code: 1404 });
    if (!["SUBMITTED", "PENDING_AUTHORIZATION", "QUEUED"].includes(tx.status)) {
      return answer(response, 400, { message: `Transaction in status ${tx.status} cannot be cancelled`, code: 1410 });
    }
    setStatus(tx, "CANCELLING");
    later(() => setStatus(tx, "CANCELLED", "CANCELLED_BY_USER_REQUEST"));
    answer(response, 200, { success: true });
  };

  const route = (request: IncomingMessage, response: ServerResponse, body: string) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const path = url.pathname;
    let match: RegExpMatchArray | null;
    if (request.method === "POST" && path === "/v1/transactions") return createTransaction(response, body);
    if (request.method === "GET" && (match = path.match(/^\/v1\/transactions\/external_tx_id\/([^/]+)$/))) {
      const externalTxId = decodeURIComponent(match[1]!);
      const tx = [...transactions.values()].find((candidate) => candidate.externalTxId === externalTxId);
      return tx ? answer(response, 200, view(tx)) : answer(response, 404, { message: "Transaction not found", code: 1404 });
    }
    if (request.method === "POST" && (match = path.match(/^\/v1\/transactions\/([^/]+)\/cancel$/))) return cancelTransaction(response, decodeURIComponent(match[1]!));
    if (request.method === "GET" && (match = path.match(/^\/v1\/transactions\/([^/]+)$/))) {
      const tx = transactions.get(decodeURIComponent(match[1]!));
      return tx ? answer(response, 200, view(tx)) : answer(response, 404, { message: "Transaction not found", code: 1404 });
    }
    if (request.method === "GET" && (match = path.match(/^\/v1\/vault\/accounts\/([^/]+)\/([^/]+)\/addresses_paginated$/))) {
      const vault = vaults.get(decodeURIComponent(match[1]!));
      if (!vault) return answer(response, 404, { message: "Vault account Id was not found", code: 1004 });
      if (decodeURIComponent(match[2]!) !== options.assetId) return answer(response, 404, { message: "Asset doesn't exist", code: 1006 });
      return answer(response, 200, { addresses: [{ assetId: options.assetId, address: vault.address, type: "Permanent", addressFormat: "BASE" }], paging: {} });
    }
    answer(response, 404, { message: `no route ${request.method} ${path}`, code: 404 });
  };

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      try {
        const body = Buffer.concat(chunks).toString("utf8");
        if (outageStatus !== null) {
          refused += 1;
          return answer(response, outageStatus, { message: "Service temporarily unavailable", code: outageStatus });
        }
        const problem = authProblem(request, body);
        if (problem) {
          unauthorized += 1;
          return answer(response, 401, { message: problem, code: -7 });
        }
        route(request, response, body);
      } catch (error) {
        answer(response, 500, { message: String(error), code: 500 });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;

  const mustGet = (id: string) => {
    const tx = transactions.get(id);
    if (!tx) throw new Error(`no provider transaction ${id}`);
    return tx;
  };

  return {
    url,
    basePath: `${url}/v1`,
    apiKey,
    secretKeyPem,
    createVault: () => {
      const privateKey = generatePrivateKey();
      const vault = { privateKey, address: privateKeyToAccount(privateKey).address.toLowerCase() as Hex };
      const vaultId = String(vaults.size);
      vaults.set(vaultId, vault);
      return { vaultId, address: vault.address };
    },
    transactions: () => [...transactions.values()],
    byExternalId: (externalTxId) => [...transactions.values()].filter((tx) => tx.externalTxId === externalTxId),
    createRequests: () => creates,
    approve: (id) => {
      const tx = mustGet(id);
      if (tx.status !== "PENDING_AUTHORIZATION") throw new Error(`provider transaction ${id} is ${tx.status}, not waiting for approval`);
      approved(tx);
    },
    reject: (id, subStatus = "REJECTED_BY_USER", status = "REJECTED") => {
      const tx = mustGet(id);
      tx.rejectedBy = "test-approver";
      setStatus(tx, status, subStatus);
    },
    fail: (id, subStatus) => setStatus(mustGet(id), "FAILED", subStatus),
    holdAt: (state) => {
      hold = state;
    },
    release: (id) => {
      const next = held.get(id);
      if (!next) throw new Error(`provider transaction ${id} is not held`);
      held.delete(id);
      next();
    },
    outage: (status) => {
      outageStatus = status;
    },
    refusedByOutage: () => refused,
    unauthorized: () => unauthorized,
    close: async () => {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
