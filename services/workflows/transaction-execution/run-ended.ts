/** How a run of TransactionExecutionWorkflow ends on purpose: the terminal phase is recorded, then the run fails with its code. */
import type { TransactionErrorCode } from "./errors.ts";
import type { TransactionStatus } from "./status.ts";

export class RunEnded extends Error {
  readonly code: TransactionErrorCode;
  readonly change: Partial<TransactionStatus>;
  constructor(code: TransactionErrorCode, message: string, change: Partial<TransactionStatus> = {}) {
    super(message);
    this.code = code;
    this.change = change;
  }
}
