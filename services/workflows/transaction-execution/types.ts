/** Inputs and answers of TransactionExecutionWorkflow's handlers, apart from its implementation. */
import { z } from "zod";
import { APPROVAL_DECISIONS } from "../../../shared/signers/approval-signature.ts";
import { TRANSACTION_PHASES } from "./status.ts";

export const cancelTransactionRequestSchema = z.object({ reason: z.string().optional() }).strict();
export type CancelTransactionRequest = z.infer<typeof cancelTransactionRequestSchema>;

export const cancelTransactionResultSchema = z.object({
  /** False when the transaction had already ended: nothing changes then. */
  accepted: z.boolean(),
  phase: z.enum(TRANSACTION_PHASES),
});
export type CancelTransactionResult = z.infer<typeof cancelTransactionResultSchema>;

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x address of 40 hex digits");

/** One approver's decision on a sign-only transaction, signed as EIP-712 typed data (approval-signature.ts). */
export const approveTransactionRequestSchema = z
  .object({
    approver: address.describe("The approver's address (one of the signer's policy)"),
    decision: z.enum(APPROVAL_DECISIONS),
    signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, "must be a 65-byte hex signature").describe("EIP-712 signature of the approver over the transaction and decision"),
  })
  .strict();
export type ApproveTransactionRequest = z.infer<typeof approveTransactionRequestSchema>;

/** A decision that counts: stored, and handed to the waiting run. */
export const approvalSignalSchema = z.object({ approver: z.string(), decision: z.enum(APPROVAL_DECISIONS), at: z.string().describe("ISO 8601 time") });
export type ApprovalSignal = z.infer<typeof approvalSignalSchema>;

export const approveTransactionResultSchema = approvalSignalSchema.extend({ counted: z.literal(true), transactionId: z.string() });
export type ApproveTransactionResult = z.infer<typeof approveTransactionResultSchema>;

export type { TransactionOperation, TransactionOperationInput } from "./operation.ts";
export type { TransactionError, TransactionPhase, TransactionStatus } from "./status.ts";
