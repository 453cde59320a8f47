/** How other services name TransactionProcessor: its definition and its request and answer types. */
import type { TransactionProcessor } from "./object.ts";

export type TransactionProcessorDefinition = TransactionProcessor;
export const transactionProcessor: TransactionProcessorDefinition = { name: "TransactionProcessor" } as TransactionProcessorDefinition;
/** The handlers' type, for typed clients. */
export type TransactionProcessorApi = TransactionProcessorDefinition;
export type * from "./types.ts";
