/** The decisions of approvers on sign-only transactions: one row per approver and transaction. */
import { bigserial, index, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import type { ApprovalDecision } from "../../signers/approval-signature.ts";
import { transactions } from "./transactions.ts";

export const transactionApprovals = pgTable(
  "transaction_approvals",
  {
    id: bigserial({ mode: "number" }).primaryKey(),
    transactionId: text()
      .notNull()
      .references(() => transactions.id, { onDelete: "cascade" }),
    /** Lower-case address of the approver (one of the signer's policy). */
    approver: text().notNull(),
    decision: text().$type<ApprovalDecision>().notNull(),
    /** The EIP-712 signature that was verified, kept as evidence. */
    signature: text().notNull(),
    decidedAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
    /** The request that stored it (a retry of that request finds its own row, not a second decision). */
    requestId: text().notNull(),
  },
  (table) => [
    // An approver decides once per transaction: a second decision is refused, never counted.
    uniqueIndex("transaction_approvals_transaction_approver_unique").on(table.transactionId, table.approver),
    index("transaction_approvals_transaction_idx").on(table.transactionId, table.decidedAt),
  ],
);
