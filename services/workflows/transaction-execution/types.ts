/** Inputs and answers of TransactionExecutionWorkflow's handlers, apart from its implementation. */
import { z } from "zod";
import { TRANSACTION_PHASES } from "./status.ts";

export const cancelTransactionRequestSchema = z.object({ reason: z.string().optional() }).strict();
export type CancelTransactionRequest = z.infer<typeof cancelTransactionRequestSchema>;

export const cancelTransactionResultSchema = z.object({
  /** False when the transaction had already ended: nothing changes then. */
  accepted: z.boolean(),
  phase: z.enum(TRANSACTION_PHASES),
});
export type CancelTransactionResult = z.infer<typeof cancelTransactionResultSchema>;

export type { TransactionOperation, TransactionOperationInput } from "./operation.ts";
export type { TransactionError, TransactionPhase, TransactionStatus } from "./status.ts";
