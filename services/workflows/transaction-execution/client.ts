/**
 * The typed client the platform uses: a thin wrapper over Restate ingress. A submission is one
 * `run/send` of TransactionExecutionWorkflow keyed by the transaction id, its body the operation;
 * the run stores it in its first step. The key makes it idempotent: submitting the same id again
 * attaches to the same execution, and the same id with a different operation or executor
 * selection is refused (the stored operation is compared) and nothing changes.
 *
 * submitTransaction · getTransactionStatus · waitForTransaction · cancelTransaction · approveTransaction
 */
import * as clients from "@restatedev/restate-sdk-clients";
import type { z } from "zod";
import type { Database } from "../../../shared/db/client.ts";
import { getTransaction } from "../../../shared/db/repositories/transactions.ts";
import { DomainError, errorCodeOf } from "../../../shared/errors.ts";
import { CORRELATION_HEADER } from "../../../shared/logger.ts";
import { transactionExecutionWorkflow } from "./api.ts";
import { describeIssues, operationConflict, storedOperationOf, transactionIdSchema, transactionOperationSchema } from "./operation.ts";
import { TERMINAL_PHASES, type TransactionStatus } from "./status.ts";
import type { ApproveTransactionRequest, ApproveTransactionResult, CancelTransactionResult } from "./types.ts";

/** What `submitTransaction` takes: the operation and its transaction id (required here). */
export const submitTransactionParameters = transactionOperationSchema.extend({ transactionId: transactionIdSchema });

export type SubmitTransactionParameters = z.input<typeof submitTransactionParameters>;
export type SubmitTransactionReturnType = {
  transactionId: string;
  invocationId: string;
  /** The id was submitted before: this call attached to its execution. */
  attached: boolean;
  /** The operation is stored and its status readable (false only when the database stayed away). */
  stored: boolean;
};

export type TransactionClientErrorCode =
  | "INVALID_TRANSACTION_REQUEST"
  | "EXECUTOR_SELECTION_MISMATCH"
  | "TRANSACTION_ID_REUSED"
  | "IDEMPOTENCY_KEY_REUSED"
  | "TRANSACTION_WAIT_TIMEOUT"
  | "TRANSACTION_NOT_FOUND"
  | ApprovalRefusalCode;

/** Why an approval did not count (the workflow's codes; `details.field` names the field). */
export const APPROVAL_REFUSAL_CODES = ["APPROVER_NOT_IN_POLICY", "APPROVAL_SIGNATURE_INVALID", "APPROVAL_DUPLICATE", "APPROVAL_NOT_OPEN"] as const;
export type ApprovalRefusalCode = (typeof APPROVAL_REFUSAL_CODES)[number];

export class TransactionClientError extends DomainError<TransactionClientErrorCode> {
  override name = "TransactionClientError";
}
export type SubmitTransactionErrorType = TransactionClientError;

export type TransactionClient = {
  submitTransaction(parameters: SubmitTransactionParameters): Promise<SubmitTransactionReturnType>;
  /** The workflow's own status; `database` reads the status record without Restate. */
  getTransactionStatus(transactionId: string, options?: { source?: "workflow" | "database" }): Promise<TransactionStatus | null>;
  waitForTransaction(transactionId: string, options?: { timeoutMs?: number; pollIntervalMs?: number }): Promise<TransactionStatus>;
  /**
   * Asks for the transaction to be cancelled: before its nonce is taken nothing reaches the chain;
   * after broadcast a zero-value self-transfer races it on its nonce and the record says which was
   * mined. `accepted: false` when it had already ended.
   */
  cancelTransaction(transactionId: string, options?: { reason?: string }): Promise<CancelTransactionResult>;
  /**
   * One approver's signed decision on a sign-only transaction (EIP-712, see approval-signature.ts).
   * Answers it counted, or throws TRANSACTION_NOT_FOUND or an ApprovalRefusalCode with the reason
   * and `details.field`.
   */
  approveTransaction(transactionId: string, request: ApproveTransactionRequest): Promise<ApproveTransactionResult>;
};

export type CreateTransactionClientParameters = {
  ingressUrl: string;
  headers?: Record<string, string>;
  /** Only for `getTransactionStatus(id, { source: "database" })`: reading the record without Restate. */
  db?: Database;
};

export function createTransactionClient(parameters: CreateTransactionClientParameters): TransactionClient {
  const ingress = clients.connect({ url: parameters.ingressUrl, headers: parameters.headers });
  const workflow = (id: string) => ingress.workflowClient(transactionExecutionWorkflow, id);

  const getTransactionStatus: TransactionClient["getTransactionStatus"] = async (transactionId, options) => {
    if (options?.source === "database") {
      if (!parameters.db) throw new Error("getTransactionStatus with source database needs the client's db");
      const row = await getTransaction(parameters.db, transactionId);
      if (!row) return null;
      return {
        phase: row.phase as TransactionStatus["phase"],
        transactionId: row.id,
        txHash: (row.txHash ?? null) as TransactionStatus["txHash"],
        nonce: row.nonce ?? null,
        error: row.errorCode ? { code: row.errorCode, message: row.errorMessage ?? "" } : null,
        blockNumber: row.blockNumber ?? null,
        ...(row.approval ? { approval: row.approval } : {}),
      };
    }
    // The workflow's status, or once Restate's retention of the run ended, the stored record's.
    try {
      return await workflow(transactionId).status();
    } catch (error) {
      if (errorCodeOf(error) === "TRANSACTION_NOT_FOUND") return null;
      throw error;
    }
  };

  return {
    submitTransaction: async (input) => {
      const parsed = submitTransactionParameters.safeParse(input);
      if (!parsed.success) {
        const { message, fields } = describeIssues(parsed.error);
        throw new TransactionClientError("INVALID_TRANSACTION_REQUEST", `invalid transaction request: ${message}`, { details: { fields } });
      }
      const { transactionId, ...operation } = parsed.data;
      const correlationHeaders: Record<string, string> = operation.correlationId ? { [CORRELATION_HEADER]: operation.correlationId } : {};
      const submission = await workflow(transactionId).workflowSubmit({ transactionId, ...operation }, clients.rpc.sendOpts({ headers: correlationHeaders }));
      // Returns once the run stored the operation (its status is readable) or refused it. A key
      // that ran before keeps what its first submission stored: a different operation is refused.
      const outcome = await workflow(transactionId).submission();
      if (outcome && "refused" in outcome) {
        throw new TransactionClientError(outcome.refused.code as TransactionClientErrorCode, outcome.refused.message, { details: { fields: outcome.refused.fields } });
      }
      const conflict = outcome ? operationConflict(outcome.stored, storedOperationOf(transactionId, operation)) : null;
      if (conflict) throw new TransactionClientError(conflict.code, conflict.message, { details: { fields: conflict.fields } });
      return { transactionId, invocationId: submission.invocationId, attached: submission.status === "PreviouslyAccepted", stored: outcome !== null };
    },

    getTransactionStatus,

    cancelTransaction: async (transactionId, options) => {
      try {
        return await workflow(transactionId).cancel({ reason: options?.reason ?? "cancel requested" });
      } catch (error) {
        if (errorCodeOf(error) === "TRANSACTION_NOT_FOUND") throw new TransactionClientError("TRANSACTION_NOT_FOUND", `no transaction ${transactionId}`);
        throw error;
      }
    },

    approveTransaction: async (transactionId, request) => {
      try {
        return await workflow(transactionId).approve(request);
      } catch (error) {
        const code = errorCodeOf(error);
        if (code === "TRANSACTION_NOT_FOUND") throw new TransactionClientError("TRANSACTION_NOT_FOUND", `no transaction ${transactionId}`);
        if (code && (APPROVAL_REFUSAL_CODES as readonly string[]).includes(code)) {
          const failure = terminalFailureOf(error);
          throw new TransactionClientError(code as ApprovalRefusalCode, failure.message, { details: failure.field ? { field: failure.field } : {} });
        }
        throw error;
      }
    },

    waitForTransaction: async (transactionId, options) => {
      const deadline = Date.now() + (options?.timeoutMs ?? 120_000);
      for (;;) {
        const status = await getTransactionStatus(transactionId);
        if (status && TERMINAL_PHASES.includes(status.phase)) return status;
        if (Date.now() > deadline) {
          throw new TransactionClientError("TRANSACTION_WAIT_TIMEOUT", `transaction ${transactionId} is still ${status?.phase ?? "unknown"}`);
        }
        await new Promise((resolve) => setTimeout(resolve, options?.pollIntervalMs ?? 250));
      }
    },
  };
}

/** The message and `field` metadata of a terminal error a handler failed with, as ingress answers it. */
function terminalFailureOf(error: unknown): { message: string; field: string | null } {
  const responseText = (error as { responseText?: unknown }).responseText;
  if (typeof responseText === "string") {
    try {
      const body = JSON.parse(responseText) as { message?: unknown; metadata?: { field?: unknown } } | null;
      return { message: typeof body?.message === "string" ? body.message : String(error), field: typeof body?.metadata?.field === "string" ? body.metadata.field : null };
    } catch {
      // not a Restate error body
    }
  }
  const metadata = (error as { metadata?: Record<string, string> }).metadata;
  return { message: error instanceof Error ? error.message : String(error), field: metadata?.field ?? null };
}
