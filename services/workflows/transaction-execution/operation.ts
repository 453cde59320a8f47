/**
 * The operation a transaction executes, as a caller submits it: the body of
 * `POST <ingress>/TransactionExecutionWorkflow/<transactionId>/run/send`. One zod schema serves the
 * workflow's input (through the SDK's schema serde, so a bad field fails the run with a 400 that
 * names it), the typed client's local check, and the published JSON Schema.
 */
import { z } from "zod";
import type { Hex } from "viem";
import type { TransactionRow } from "../../../shared/db/repositories/transactions.ts";
import { executorSelectionSchema, sameExecutorSelection } from "../../../shared/signers/executor-selection.ts";
import { transactionError } from "./errors.ts";

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 20-byte hex address");
const decimal = z.string().regex(/^\d+$/, "must be a non-negative integer in decimal");

/**
 * The alphabet of a transaction id: the workflow key, and what the DAPI's recover-stuck-workflow
 * accepts, so every transaction can be recovered by an operator.
 */
export const transactionIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "must be 1-128 characters of letters, digits, _ and -");

export const transactionOperationSchema = z
  .object({
    /** Optional in the run's body (the key is the id); when given it must equal the key. */
    transactionId: transactionIdSchema.optional(),
    organizationId: z.string().min(1).max(128),
    chainId: z.number().int().positive(),
    signerAddress: address.transform((value) => value.toLowerCase() as Hex),
    /** null deploys a contract. */
    target: address.transform((value) => value.toLowerCase() as Hex).nullable(),
    data: z
      .string()
      .regex(/^0x([0-9a-fA-F]{2})*$/, "must be 0x-prefixed hex bytes")
      .transform((value) => value.toLowerCase() as Hex)
      .default("0x"),
    value: decimal.default("0"),
    gas: z
      .object({ gasLimit: decimal.optional(), maxFeePerGas: decimal.optional(), maxPriorityFeePerGas: decimal.optional() })
      .strict()
      .optional(),
    executor: executorSelectionSchema,
    /** Unique per organization; the transaction id unless given. */
    idempotencyKey: z.string().min(1).max(256).optional(),
    correlationId: z.string().min(1).max(256).optional(),
  })
  .strict();

/** What a caller sends. */
export type TransactionOperationInput = z.input<typeof transactionOperationSchema>;
/** What the workflow receives: addresses and data lower-case, defaults filled in. */
export type TransactionOperation = z.output<typeof transactionOperationSchema>;

const hex = z.templateLiteral(["0x", z.string()]);

/** The operation as it is stored (and journaled): every field spelled out. */
export const storedOperationSchema = z.object({
  transactionId: z.string(),
  organizationId: z.string(),
  chainId: z.number().int(),
  signerAddress: hex,
  target: hex.nullable(),
  data: hex,
  value: z.string(),
  gasLimit: z.string().nullable(),
  maxFeePerGas: z.string().nullable(),
  maxPriorityFeePerGas: z.string().nullable(),
  executor: executorSelectionSchema,
  idempotencyKey: z.string(),
  correlationId: z.string().nullable(),
});
export type StoredOperation = z.infer<typeof storedOperationSchema>;

/** What became of a submission: what the run stored, or why it refused it (nothing stored then). */
export const submissionOutcomeSchema = z.union([
  z.object({ stored: storedOperationSchema }),
  z.object({ refused: z.object({ code: z.string(), message: z.string(), fields: z.array(z.string()) }) }),
]);
export type SubmissionOutcome = z.infer<typeof submissionOutcomeSchema>;

/** The stored shape of a submitted operation under its transaction id. */
export function storedOperationOf(transactionId: string, operation: TransactionOperation): StoredOperation {
  return {
    transactionId,
    organizationId: operation.organizationId,
    chainId: operation.chainId,
    signerAddress: operation.signerAddress,
    target: operation.target,
    data: operation.data,
    value: operation.value,
    gasLimit: operation.gas?.gasLimit ?? null,
    maxFeePerGas: operation.gas?.maxFeePerGas ?? null,
    maxPriorityFeePerGas: operation.gas?.maxPriorityFeePerGas ?? null,
    executor: operation.executor,
    idempotencyKey: operation.idempotencyKey ?? transactionId,
    correlationId: operation.correlationId ?? null,
  };
}

/** The operation of a stored transaction record. */
export function storedOperationOfRecord(row: TransactionRow): StoredOperation {
  const gas = (row.gas ?? {}) as { gasLimit?: string; maxFeePerGas?: string; maxPriorityFeePerGas?: string };
  const executor = executorSelectionSchema.safeParse(row.executor);
  if (!executor.success) throw transactionError("EXECUTOR_SELECTION_INVALID", `stored executor selection of ${row.id} is invalid: ${executor.error.message}`);
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
    idempotencyKey: row.idempotencyKey,
    correlationId: row.correlationId ?? null,
  };
}

/** The body that submits a stored operation again (a dead-letter replay, a reconciler re-drive). */
export function submissionOf(stored: StoredOperation): TransactionOperation & { transactionId: string } {
  const gas = {
    ...(stored.gasLimit ? { gasLimit: stored.gasLimit } : {}),
    ...(stored.maxFeePerGas ? { maxFeePerGas: stored.maxFeePerGas } : {}),
    ...(stored.maxPriorityFeePerGas ? { maxPriorityFeePerGas: stored.maxPriorityFeePerGas } : {}),
  };
  return {
    transactionId: stored.transactionId,
    organizationId: stored.organizationId,
    chainId: stored.chainId,
    signerAddress: stored.signerAddress,
    target: stored.target,
    data: stored.data,
    value: stored.value,
    ...(Object.keys(gas).length > 0 ? { gas } : {}),
    executor: stored.executor,
    idempotencyKey: stored.idempotencyKey,
    ...(stored.correlationId ? { correlationId: stored.correlationId } : {}),
  };
}

/** Why a submission under an existing transaction id is refused (null: it is the same operation). */
export type OperationConflict = { code: "EXECUTOR_SELECTION_MISMATCH" | "TRANSACTION_ID_REUSED"; message: string; fields: string[] };

/**
 * Compares a submission with the operation stored under its id. The correlation id and the
 * idempotency key may differ (a retry may carry new ones); everything that decides what reaches the
 * chain may not.
 */
export function operationConflict(stored: StoredOperation, submitted: StoredOperation): OperationConflict | null {
  if (!sameExecutorSelection(stored.executor, submitted.executor)) {
    return {
      code: "EXECUTOR_SELECTION_MISMATCH",
      message: `transaction ${stored.transactionId} was submitted with executor ${JSON.stringify(stored.executor)}; a retry must use the same selection`,
      fields: ["executor"],
    };
  }
  const fields = (
    [
      ["organizationId", stored.organizationId, submitted.organizationId],
      ["chainId", stored.chainId, submitted.chainId],
      ["signerAddress", stored.signerAddress, submitted.signerAddress],
      ["target", stored.target, submitted.target],
      ["data", stored.data, submitted.data],
      ["value", stored.value, submitted.value],
      ["gas.gasLimit", stored.gasLimit, submitted.gasLimit],
      ["gas.maxFeePerGas", stored.maxFeePerGas, submitted.maxFeePerGas],
      ["gas.maxPriorityFeePerGas", stored.maxPriorityFeePerGas, submitted.maxPriorityFeePerGas],
    ] as const
  )
    .filter(([, a, b]) => a !== b)
    .map(([field]) => field);
  if (fields.length === 0) return null;
  return { code: "TRANSACTION_ID_REUSED", message: `transaction ${stored.transactionId} exists with a different ${fields.join(", ")}`, fields };
}

/** The issues of a failed parse as `field: message`, each naming its field. */
export function describeIssues(error: z.ZodError): { message: string; fields: string[] } {
  const fields = error.issues.map((issue) => issue.path.join(".") || "(request)");
  return { message: error.issues.map((issue, i) => `${fields[i]}: ${issue.message}`).join("; "), fields };
}
