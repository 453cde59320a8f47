/** What callers may know of TransactionExecutionWorkflow: its name and types, not its code. */
import type { TransactionExecutionWorkflow } from "./workflow.ts";

export type TransactionExecutionWorkflowApi = TransactionExecutionWorkflow;
export const TRANSACTION_EXECUTION_WORKFLOW = "TransactionExecutionWorkflow";
export type { TransactionError, TransactionPhase, TransactionStatus } from "./status.ts";
export { TERMINAL_PHASES, TRANSACTION_PHASES } from "./status.ts";
