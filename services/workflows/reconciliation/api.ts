/** How callers name TransactionReconciler (one loop per chain id): its definition, not its code. */
import type { TransactionReconciler } from "./object.ts";

export type TransactionReconcilerDefinition = TransactionReconciler;
export const transactionReconciler: TransactionReconcilerDefinition = { name: "TransactionReconciler" } as TransactionReconcilerDefinition;
