/**
 * The typed client the platform uses: store the operation, then start its workflow through Restate
 * ingress, keyed (and so made idempotent) by the transaction id. Submitting the same transaction id again attaches to the same
 * execution; the same id with a different operation or executor selection is refused and nothing changes.
 *
 * submitTransaction · getTransactionStatus · waitForTransaction · cancelTransaction
 */
import * as clients from "@restatedev/restate-sdk-clients";
import { z } from "zod";
import type { Database } from "../../../shared/db/client.ts";
import { getTransaction, insertTransaction } from "../../../shared/db/repositories/transactions.ts";
import { DomainError, errorCodeOf } from "../../../shared/errors.ts";
import { CORRELATION_HEADER } from "../../../shared/logger.ts";
import { executorSelectionSchema, sameExecutorSelection } from "../../../shared/signers/executor-selection.ts";
import { transactionExecutionWorkflow } from "./api.ts";
import { TERMINAL_PHASES, type TransactionStatus } from "./status.ts";
import type { CancelTransactionResult } from "./types.ts";

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 20-byte hex address");
const decimal = z.string().regex(/^\d+$/, "must be a non-negative integer in decimal");

export const submitTransactionParameters = z
  .object({
    // The same alphabet the DAPI's recover-stuck-workflow accepts for a workflow key, so every
    // transaction can be recovered by an operator.
    transactionId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "must be 1-128 characters of letters, digits, _ and -"),
    organizationId: z.string().min(1).max(128),
    chainId: z.number().int().positive(),
    signerAddress: address.transform((value) => value.toLowerCase()),
    /** null deploys a contract. */
    target: address.nullable(),
    data: z.string().regex(/^0x([0-9a-fA-F]{2})*$/, "must be 0x-prefixed hex bytes").default("0x"),
    value: decimal.default("0"),
    gas: z
      .object({ gasLimit: decimal.optional(), maxFeePerGas: decimal.optional(), maxPriorityFeePerGas: decimal.optional() })
      .strict()
      .optional(),
    executor: executorSelectionSchema,
    idempotencyKey: z.string().min(1).max(256).optional(),
    correlationId: z.string().min(1).max(256).optional(),
  })
  .strict();

export type SubmitTransactionParameters = z.input<typeof submitTransactionParameters>;
export type SubmitTransactionReturnType = { transactionId: string; invocationId: string; attached: boolean };

export type TransactionClientErrorCode =
  | "INVALID_TRANSACTION_REQUEST"
  | "EXECUTOR_SELECTION_MISMATCH"
  | "TRANSACTION_ID_REUSED"
  | "IDEMPOTENCY_KEY_REUSED"
  | "TRANSACTION_WAIT_TIMEOUT"
  | "TRANSACTION_NOT_FOUND";

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
};

export function createTransactionClient(parameters: { db: Database; ingressUrl: string; headers?: Record<string, string> }): TransactionClient {
  const ingress = clients.connect({ url: parameters.ingressUrl, headers: parameters.headers });
  const workflow = (id: string) => ingress.workflowClient(transactionExecutionWorkflow, id);

  const getTransactionStatus: TransactionClient["getTransactionStatus"] = async (transactionId, options) => {
    if (options?.source === "database") {
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
        const fields = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(request)"}: ${issue.message}`);
        throw new TransactionClientError("INVALID_TRANSACTION_REQUEST", `invalid transaction request: ${fields.join("; ")}`, {
          details: { fields: parsed.error.issues.map((issue) => issue.path.join(".")) },
        });
      }
      const request = parsed.data;
      const idempotencyKey = request.idempotencyKey ?? request.transactionId;
      let stored;
      try {
        stored = await insertTransaction(parameters.db, {
          id: request.transactionId,
          organizationId: request.organizationId,
          chainId: request.chainId,
          signerAddress: request.signerAddress,
          target: request.target?.toLowerCase() ?? null,
          data: request.data.toLowerCase(),
          value: request.value,
          gas: request.gas ?? null,
          executor: request.executor,
          idempotencyKey,
          correlationId: request.correlationId ?? null,
        });
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw new TransactionClientError("IDEMPOTENCY_KEY_REUSED", `idempotency key "${idempotencyKey}" belongs to another transaction of organization ${request.organizationId}`);
        }
        throw error;
      }
      if (!stored.created) {
        const existing = stored.transaction;
        const existingExecutor = executorSelectionSchema.parse(existing.executor);
        if (!sameExecutorSelection(existingExecutor, request.executor)) {
          throw new TransactionClientError(
            "EXECUTOR_SELECTION_MISMATCH",
            `transaction ${request.transactionId} was submitted with executor ${JSON.stringify(existingExecutor)}; a retry must use the same selection`,
          );
        }
        const differing = (
          [
            ["organizationId", existing.organizationId, request.organizationId],
            ["chainId", existing.chainId, request.chainId],
            ["signerAddress", existing.signerAddress, request.signerAddress],
            ["target", existing.target ?? null, request.target?.toLowerCase() ?? null],
            ["data", existing.data, request.data.toLowerCase()],
            ["value", existing.value, request.value],
            ["gas", canonicalGas(existing.gas), canonicalGas(request.gas ?? null)],
          ] as const
        )
          .filter(([, a, b]) => a !== b)
          .map(([field]) => field);
        if (differing.length > 0) {
          throw new TransactionClientError("TRANSACTION_ID_REUSED", `transaction ${request.transactionId} exists with a different ${differing.join(", ")}`);
        }
      }
      // The transaction id is the workflow key, and Restate runs a workflow's `run` once per key:
      // that key is the submission's idempotency key (Restate refuses a second one on workflows).
      const submission = await workflow(request.transactionId).workflowSubmit(
        { correlationId: request.correlationId },
        clients.rpc.sendOpts({ headers: request.correlationId ? { [CORRELATION_HEADER]: request.correlationId } : {} }),
      );
      return { transactionId: request.transactionId, invocationId: submission.invocationId, attached: !stored.created };
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

/** Gas policy in one spelling, so `{}` and a missing policy compare equal and key order does not matter. */
function canonicalGas(gas: { gasLimit?: string; maxFeePerGas?: string; maxPriorityFeePerGas?: string } | null | undefined): string {
  return JSON.stringify({ gasLimit: gas?.gasLimit ?? null, maxFeePerGas: gas?.maxFeePerGas ?? null, maxPriorityFeePerGas: gas?.maxPriorityFeePerGas ?? null });
}

function isUniqueViolation(error: unknown): boolean {
  for (let current: unknown = error; current; current = (current as { cause?: unknown }).cause) {
    if ((current as { code?: unknown }).code === "23505") return true;
  }
  return false;
}
