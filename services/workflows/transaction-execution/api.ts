/** How callers name TransactionExecutionWorkflow: its definition and its types, not its code. */
import type { TransactionExecutionWorkflow } from "./workflow.ts";

export type TransactionExecutionWorkflowDefinition = TransactionExecutionWorkflow;
export const transactionExecutionWorkflow: TransactionExecutionWorkflowDefinition = { name: "TransactionExecutionWorkflow" } as TransactionExecutionWorkflowDefinition;
/** The handlers' type, for typed clients. */
export type TransactionExecutionWorkflowApi = TransactionExecutionWorkflowDefinition;
export const TRANSACTION_EXECUTION_WORKFLOW = transactionExecutionWorkflow.name;
export type * from "./types.ts";
export { TERMINAL_PHASES, TRANSACTION_PHASES } from "./status.ts";
