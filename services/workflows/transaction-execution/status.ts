/** The phases of a transaction and the status the workflow's shared `status` handler returns. */
import type { Hex } from "viem";

export const TRANSACTION_PHASES = ["submitting", "awaiting-approval", "confirming", "completed", "blocked", "failed", "dead-letter"] as const;
export type TransactionPhase = (typeof TRANSACTION_PHASES)[number];
export const TERMINAL_PHASES: readonly TransactionPhase[] = ["completed", "failed", "dead-letter"];

export type TransactionError = { code: string; message: string };

export type TransactionStatus = {
  phase: TransactionPhase;
  transactionId: string;
  txHash: Hex | null;
  nonce: number | null;
  error: TransactionError | null;
  blockNumber?: number | null;
};
