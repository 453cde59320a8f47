/** Inputs and answers of TransactionExecutionWorkflow's handlers, apart from its implementation. */
import type { TransactionPhase } from "./status.ts";

export type TransactionRunInput = { correlationId?: string } | undefined;

export type CancelTransactionRequest = { reason?: string };
export type CancelTransactionResult = {
  /** False when the transaction had already ended: nothing changes then. */
  accepted: boolean;
  phase: TransactionPhase;
};

export type { TransactionError, TransactionPhase, TransactionStatus } from "./status.ts";
