/** Stored transaction operations and their status record, plus every phase change. */
import { bigint, bigserial, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

export const TRANSACTION_PHASES = ["submitting", "awaiting-approval", "confirming", "completed", "blocked", "failed", "dead-letter"] as const;
export type TransactionPhase = (typeof TRANSACTION_PHASES)[number];

export type TransactionGas = { gasLimit?: string; maxFeePerGas?: string; maxPriorityFeePerGas?: string };

const timestamps = {
  createdAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  updatedAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
};

export const transactions = pgTable(
  "transactions",
  {
    /** The transaction id: also the workflow key. */
    id: text().primaryKey(),
    organizationId: text().notNull(),
    chainId: integer().notNull(),
    /** Lower-case hex address. */
    signerAddress: text().notNull(),
    /** Null deploys a contract. */
    target: text(),
    data: text().notNull().default("0x"),
    /** Wei, as a decimal string. */
    value: text().notNull().default("0"),
    gas: jsonb().$type<TransactionGas>(),
    /** The executor selection (signer route) the operation was submitted with. */
    executor: jsonb().$type<Record<string, unknown>>().notNull(),
    idempotencyKey: text().notNull(),
    correlationId: text(),
    phase: text().$type<TransactionPhase>().notNull().default("submitting"),
    txHash: text(),
    nonce: integer(),
    errorCode: text(),
    errorMessage: text(),
    blockNumber: bigint({ mode: "number" }),
    ...timestamps,
    phaseChangedAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex("transactions_idempotency_key_unique").on(table.idempotencyKey),
    index("transactions_phase_updated_at_idx").on(table.phase, table.updatedAt),
    index("transactions_sender_idx").on(table.organizationId, table.signerAddress, table.chainId),
  ],
);

export const transactionTransitions = pgTable(
  "transaction_transitions",
  {
    id: bigserial({ mode: "number" }).primaryKey(),
    transactionId: text()
      .notNull()
      .references(() => transactions.id, { onDelete: "cascade" }),
    /** Position in the workflow's sequence of transitions; a retried step writes the same row. */
    sequence: integer().notNull(),
    phase: text().$type<TransactionPhase>().notNull(),
    txHash: text(),
    nonce: integer(),
    errorCode: text(),
    errorMessage: text(),
    at: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [uniqueIndex("transaction_transitions_sequence_unique").on(table.transactionId, table.sequence)],
);
