/**
 * What a DAPI request can see: its request id, the caller (once authenticated) and the services the
 * routes work with. Services are handed in by `dapi.ts` (or a test); nothing here reads the environment.
 */
import type { DeadLetterKind } from "../shared/db/schema/index.ts";
import type { Database } from "../shared/db/client.ts";
import type { Logger } from "../shared/logger.ts";
import type { WebhookSecretBox } from "../shared/webhooks/secret-box.ts";
import type { WebhookTargetPolicy } from "../shared/webhooks/target-policy.ts";
import type { RestateAdminClient } from "../shared/restate/admin-client.ts";
import type { Permission } from "./auth/permissions.ts";
import type { TransactionInspection } from "./routes/transactions.ts";
import type { ApproveTransactionRequest, ApproveTransactionResult } from "../services/workflows/transaction-execution/types.ts";
import type { DapiStores } from "./stores.ts";

export type Principal = {
  keyId: string;
  actorId: string;
  /** The role stored with the key; recorded in audit rows as the role at the time. */
  role: string;
  permissions: readonly Permission[];
};

export type RestateEndpoints = {
  adminUrl: string;
  ingressUrl: string;
  authToken?: string | undefined;
  /** Node URLs (node port) whose /health the doctor reads; unset: the admin host on port 5122. */
  nodeUrls?: string[] | undefined;
};

/**
 * How a dead letter of one kind is replayed: the workflow whose key is the letter's reference is
 * recovered (as recover-stuck-workflow does), then `resubmit` starts it again.
 */
export type DeadLetterReplay = {
  serviceName: string;
  resubmit(referenceId: string): Promise<{ invocationId: string }>;
};

/** Kinds without an entry (identity recovery, asset issuance: their letters need an operator) are refused. */
export type DeadLetterReplays = Partial<Record<DeadLetterKind, DeadLetterReplay>>;

/** What the transaction routes do: read the stored record, and cancel through the typed transaction client. */
export type TransactionOperations = {
  /** The record, its phase changes and its signatures; undefined when no transaction has the id. */
  inspect(transactionId: string): Promise<TransactionInspection | undefined>;
  cancel(transactionId: string, reason: string): Promise<{ accepted: boolean; phase: string }>;
  /** One approver's signed decision on a sign-only transaction; throws a DapiError when it does not count. */
  approve(transactionId: string, request: ApproveTransactionRequest): Promise<ApproveTransactionResult>;
};

/** What the webhook subscription routes work with. */
export type WebhookServices = {
  db: Database;
  /** Seals new secrets; undefined without WEBHOOK_SECRET_KEYS (creating and rotating then answer WEBHOOKS_NOT_CONFIGURED). */
  secretBox: WebhookSecretBox | undefined;
  /** Where subscription URLs may point (WEBHOOK_ALLOW_INSECURE_URLS). */
  policy: WebhookTargetPolicy;
  /** Starts the WebhookDeliveryWorkflow of a stored delivery through Restate's ingress. */
  startDelivery(deliveryId: string): Promise<{ invocationId: string }>;
};

export type OperatorServices = {
  /** API keys, audit rows and dead letters (the database, or fakes in unit tests). */
  stores: DapiStores;
  /** Admin client for the write routes and inspection. */
  admin: RestateAdminClient;
  restate: RestateEndpoints;
  /** Upper bound for each doctor probe. */
  doctorProbeTimeoutMs: number;
  /** `host:port` targets force-redeploy may register although they look like Restate's own ports or link-local addresses. */
  redeployAllow: readonly string[];
  /** Dead-letter kinds that can be replayed, and how. */
  replays: DeadLetterReplays;
  transactions: TransactionOperations;
  /** Webhook subscription management; absent where no database backs the DAPI (unit tests). */
  webhooks?: WebhookServices;
};

export type DapiEnv = {
  Variables: {
    requestId: string;
    services: OperatorServices;
    principal: Principal;
    /** The X-Api-Key of an authenticated request: masked wherever it would be stored or logged. */
    presentedApiKey: string;
    logger: Logger;
  };
};
