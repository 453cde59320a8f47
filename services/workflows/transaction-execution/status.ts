/** The phases of a transaction and the status the workflow's shared `status` handler returns. */
import { z } from "zod";
import { TRANSACTION_PHASES, type TransactionPhase } from "../../../shared/db/schema/transactions.ts";
import { transactionApprovalSchema } from "../../../shared/signers/approval.ts";

// One list of phases: the status record's column type is the workflow's phase type.
export { TRANSACTION_PHASES, type TransactionPhase } from "../../../shared/db/schema/transactions.ts";
export const TERMINAL_PHASES: readonly TransactionPhase[] = ["completed", "failed", "dead-letter"];

export const transactionErrorSchema = z.object({ code: z.string(), message: z.string() });
export type TransactionError = z.infer<typeof transactionErrorSchema>;

const hex = z.templateLiteral(["0x", z.string()]);

/** What the workflow's `run` answers and its `status` handler reads. */
export const transactionStatusSchema = z.object({
  phase: z.enum(TRANSACTION_PHASES),
  transactionId: z.string(),
  txHash: hex.nullable(),
  nonce: z.number().int().nonnegative().nullable(),
  error: transactionErrorSchema.nullable(),
  blockNumber: z.number().int().nonnegative().nullable().optional(),
  /** Routes with approval only: what the transaction waits for (or waited for) and how it ended. */
  approval: transactionApprovalSchema.nullable().optional(),
});
export type TransactionStatus = z.infer<typeof transactionStatusSchema>;
