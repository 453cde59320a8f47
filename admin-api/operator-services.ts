/**
 * Builds what the operator routes work with from the database and the Restate endpoints: stores,
 * the admin client, and the resubmission used by dead-letter replay.
 */
import type { Database } from "../shared/db/client.ts";
import * as clients from "@restatedev/restate-sdk-clients";
import { listTransactionSignatures } from "../shared/db/repositories/transaction-signatures.ts";
import { getTransaction, listTransactionTransitions, reopenDeadLetteredTransaction } from "../shared/db/repositories/transactions.ts";
import { setWebhookDeliveryStatus } from "../shared/db/repositories/webhooks.ts";
import type { WebhookDeliveryWorkflowApi } from "../services/workflows/webhook-delivery/api.ts";
import { TRANSACTION_EXECUTION_WORKFLOW } from "../services/workflows/transaction-execution/api.ts";
import { createRestateAdminClient } from "../shared/restate/admin-client.ts";
import { APPROVAL_REFUSAL_CODES, createTransactionClient, TransactionClientError } from "../services/workflows/transaction-execution/client.ts";
import { storedOperationOfRecord, submissionOf } from "../services/workflows/transaction-execution/operation.ts";
import type { OperatorServices, RestateEndpoints } from "./context.ts";
import type { TransactionInspection } from "./routes/transactions.ts";
import { errorCodeOf } from "../shared/errors.ts";
import { DapiError } from "./errors.ts";
import { createDatabaseStores } from "./stores.ts";
import { createWebhookSecretBox, type SecretKeyRing } from "../shared/webhooks/secret-box.ts";

/** Default of DAPI_RESTATE_TIMEOUT_MS. */
export const DEFAULT_RESTATE_TIMEOUT_MS = 5_000;

export type CreateOperatorServicesParameters = {
  db: Database;
  restate: RestateEndpoints;
  /** DOCTOR_PROBE_TIMEOUT_MS of the configuration. */
  doctorProbeTimeoutMs: number;
  /** DAPI_RESTATE_TIMEOUT_MS: upper bound of each admin API call of the operator routes. */
  restateTimeoutMs?: number;
  /** DAPI_REDEPLOY_ALLOW. */
  redeployAllow?: readonly string[];
  /** WEBHOOK_SECRET_KEYS, parsed; without it webhook secrets cannot be created or rotated. */
  webhookSecretKeys?: SecretKeyRing | undefined;
  /** WEBHOOK_ALLOW_INSECURE_URLS. */
  webhookAllowInsecureUrls?: boolean;
};

export function createOperatorServices(parameters: CreateOperatorServicesParameters): OperatorServices {
  const { db, restate } = parameters;
  const authHeaders = restate.authToken ? { authorization: `Bearer ${restate.authToken}` } : undefined;
  const transactions = createTransactionClient({ db, ingressUrl: restate.ingressUrl, ...(authHeaders ? { headers: authHeaders } : {}) });
  const ingress = clients.connect({ url: restate.ingressUrl, ...(authHeaders ? { headers: authHeaders } : {}) });
  const startDelivery = async (deliveryId: string) => {
    const submission = await ingress.workflowClient<WebhookDeliveryWorkflowApi>({ name: "WebhookDeliveryWorkflow" }, deliveryId).workflowSubmit({});
    return { invocationId: submission.invocationId };
  };
  return {
    stores: createDatabaseStores(db),
    webhooks: {
      db,
      secretBox: parameters.webhookSecretKeys ? createWebhookSecretBox(parameters.webhookSecretKeys) : undefined,
      policy: { allowInsecure: parameters.webhookAllowInsecureUrls ?? false },
      startDelivery,
    },
    admin: createRestateAdminClient({ baseUrl: restate.adminUrl, authToken: restate.authToken, timeoutMs: parameters.restateTimeoutMs ?? DEFAULT_RESTATE_TIMEOUT_MS }),
    restate,
    doctorProbeTimeoutMs: parameters.doctorProbeTimeoutMs,
    transactions: {
      inspect: (transactionId) => inspectTransaction(db, transactionId),
      cancel: async (transactionId, reason) => {
        try {
          return await transactions.cancelTransaction(transactionId, { reason });
        } catch (error) {
          if (errorCodeOf(error) === "TRANSACTION_NOT_FOUND") throw new DapiError("TRANSACTION_NOT_FOUND", `no transaction ${transactionId}`);
          throw error;
        }
      },
      approve: async (transactionId, request) => {
        try {
          return await transactions.approveTransaction(transactionId, request);
        } catch (error) {
          if (!(error instanceof TransactionClientError)) throw error;
          if (error.code === "TRANSACTION_NOT_FOUND") throw new DapiError("TRANSACTION_NOT_FOUND", `no transaction ${transactionId}`);
          if ((APPROVAL_REFUSAL_CODES as readonly string[]).includes(error.code)) {
            throw new DapiError(error.code as (typeof APPROVAL_REFUSAL_CODES)[number], error.message, { data: { ...error.details } });
          }
          throw error;
        }
      },
    },
    redeployAllow: parameters.redeployAllow ?? [],
    replays: {
      transaction: { serviceName: TRANSACTION_EXECUTION_WORKFLOW, resubmit: (transactionId) => resubmitTransaction(transactionId) },
      "webhook-delivery": {
        serviceName: "WebhookDeliveryWorkflow",
        resubmit: async (deliveryId) => {
          // The delivery row stays (its attempts are history); the workflow starts over with it.
          await setWebhookDeliveryStatus(db, deliveryId, { status: "pending", nextAttemptAt: null });
          return startDelivery(deliveryId);
        },
      },
    },
  };

  async function resubmitTransaction(transactionId: string): Promise<{ invocationId: string }> {
    const stored = await getTransaction(db, transactionId);
    if (!stored) throw new DapiError("DEAD_LETTER_NOT_FOUND", `the dead letter names transaction ${transactionId}, which is not stored`);
    // The record leaves `dead-letter` before the new run starts, so nobody reads the old outcome as
    // the replay's; the run takes it from there (resuming any bytes signed before).
    await reopenDeadLetteredTransaction(db, { transactionId, key: `replay/${crypto.randomUUID()}` });
    const submitted = await transactions.submitTransaction(submissionOf(storedOperationOfRecord(stored)));
    return { invocationId: submitted.invocationId };
  }
}

/** The stored record of one transaction with its phase changes and signatures; the signed bytes stay out. */
async function inspectTransaction(db: Database, transactionId: string): Promise<TransactionInspection | undefined> {
  const record = await getTransaction(db, transactionId);
  if (!record) return undefined;
  const [transitions, signatures] = await Promise.all([listTransactionTransitions(db, transactionId), listTransactionSignatures(db, transactionId)]);
  return {
    id: record.id,
    organizationId: record.organizationId,
    chainId: record.chainId,
    signerAddress: record.signerAddress,
    target: record.target,
    value: record.value,
    executor: record.executor,
    correlationId: record.correlationId,
    phase: record.phase,
    txHash: record.txHash,
    nonce: record.nonce,
    blockNumber: record.blockNumber,
    blockHash: record.blockHash,
    errorCode: record.errorCode,
    errorMessage: record.errorMessage,
    cancelRequestedAt: record.cancelRequestedAt?.toISOString() ?? null,
    cancelReason: record.cancelReason,
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
    phaseChangedAt: record.phaseChangedAt.toISOString(),
    transitions: transitions.map((row) => ({
      sequence: row.sequence,
      phase: row.phase,
      reason: row.reason,
      txHash: row.txHash,
      nonce: row.nonce,
      errorCode: row.errorCode,
      errorMessage: row.errorMessage,
      at: row.at.toISOString(),
    })),
    signatures: signatures.map((row) => ({
      kind: row.kind,
      nonce: row.nonce,
      hash: row.hash,
      maxFeePerGas: row.maxFeePerGas,
      maxPriorityFeePerGas: row.maxPriorityFeePerGas,
      refusedAt: row.refusedAt?.toISOString() ?? null,
      createdAt: row.createdAt.toISOString(),
    })),
  };
}
