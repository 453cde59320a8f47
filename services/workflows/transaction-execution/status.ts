/** The phases of a transaction and the status the workflow's shared `status` handler returns. */
import type { Hex } from "viem";
import type { TransactionPhase } from "../../../shared/db/schema/transactions.ts";
import type { TransactionApproval } from "../../../shared/signers/approval.ts";

// One list of phases: the status record's column type is the workflow's phase type.
export { TRANSACTION_PHASES, type TransactionPhase } from "../../../shared/db/schema/transactions.ts";
export const TERMINAL_PHASES: readonly TransactionPhase[] = ["completed", "failed", "dead-letter"];

export type TransactionError = { code: string; message: string };

export type TransactionStatus = {
  phase: TransactionPhase;
  transactionId: string;
  txHash: Hex | null;
  nonce: number | null;
  error: TransactionError | null;
  blockNumber?: number | null;
  /** Routes with approval only: what the transaction waits for (or waited for) and how it ended. */
  approval?: TransactionApproval | null;
};
