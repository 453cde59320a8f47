/** Stored transaction operations and their status record, plus every phase change. */
import { sql } from "drizzle-orm";
import { bigint, bigserial, index, integer, jsonb, numeric, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";
import type { TransactionApproval } from "../../signers/approval.ts";

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
    /** Hash of the receipt's block, so a reorg after completion can be noticed. */
    blockHash: text(),
    /** Set when a cancellation was asked for (cancel API, Restate cancel, reconciliation). */
    cancelRequestedAt: timestamp({ withTimezone: true, mode: "date" }),
    cancelReason: text(),
    /** What an approval wait waits for, and how it ended (routes with approval only; null otherwise). */
    approval: jsonb().$type<TransactionApproval>(),
    /**
     * Smart-wallet route: the EntryPoint nonce (key 0) this transaction's user operation holds,
     * claimed before the owners sign it. An open transaction holds its nonce alone (the index below).
     */
    userOperationNonce: numeric({ mode: "bigint" }),
    ...timestamps,
    phaseChangedAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [
    // Idempotency keys belong to the organization that chose them.
    uniqueIndex("transactions_organization_idempotency_key_unique").on(table.organizationId, table.idempotencyKey),
    index("transactions_phase_updated_at_idx").on(table.phase, table.updatedAt),
    index("transactions_sender_idx").on(table.organizationId, table.signerAddress, table.chainId),
    // The approvals list by state; partial, so transactions without an approval cost nothing.
    index("transactions_approval_state_idx")
      .on(sql`(${table.approval}->>'state')`, table.createdAt, table.id)
      .where(sql`${table.approval} is not null`),
    // One open transaction per smart-account nonce: the claim two preparations race for. A
    // transaction that ended completed or failed gives its nonce up (dead letters keep theirs: they
    // may be replayed).
    uniqueIndex("transactions_user_operation_nonce_unique")
      .on(table.chainId, table.signerAddress, table.userOperationNonce)
      .where(sql`${table.userOperationNonce} is not null and ${table.phase} not in ('completed', 'failed')`),
  ],
);

export const transactionTransitions = pgTable(
  "transaction_transitions",
  {
    id: bigserial({ mode: "number" }).primaryKey(),
    transactionId: text()
      .notNull()
      .references(() => transactions.id, { onDelete: "cascade" }),
    /** Position among every transition of the transaction, over all of its runs (1, 2, …). */
    sequence: integer().notNull(),
    /**
     * Who wrote the change and at which step (`<invocation id>/<n>`, `reconcile/<…>`): a retried
     * step writes the same key and so the same row, whatever run it belongs to.
     */
    key: text().notNull(),
    /** Why the phase changed when that is not obvious from it (`reorg`, `cancel-requested`, …). */
    reason: text(),
    phase: text().$type<TransactionPhase>().notNull(),
    txHash: text(),
    nonce: integer(),
    errorCode: text(),
    errorMessage: text(),
    at: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex("transaction_transitions_sequence_unique").on(table.transactionId, table.sequence),
    uniqueIndex("transaction_transitions_key_unique").on(table.transactionId, table.key),
  ],
);

export const SIGNATURE_KINDS = ["original", "replacement", "cancellation"] as const;
export type SignatureKind = (typeof SIGNATURE_KINDS)[number];

/**
 * Every signed transaction ddwf produced for an operation: the original, each fee replacement and a
 * cancellation. Kept for as long as the record, so any later run of the key can watch (and send
 * again) exactly these bytes instead of signing the call anew.
 */
export const transactionSignatures = pgTable(
  "transaction_signatures",
  {
    id: bigserial({ mode: "number" }).primaryKey(),
    transactionId: text()
      .notNull()
      .references(() => transactions.id, { onDelete: "cascade" }),
    nonce: integer().notNull(),
    hash: text().notNull(),
    /** The signed bytes, ready to be sent again as they are. */
    raw: text().notNull(),
    maxFeePerGas: text().notNull(),
    maxPriorityFeePerGas: text().notNull(),
    kind: text().$type<SignatureKind>().notNull(),
    /** Set when the node refused these bytes for good and the nonce was handed back. */
    refusedAt: timestamp({ withTimezone: true, mode: "date" }),
    createdAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [uniqueIndex("transaction_signatures_hash_unique").on(table.hash), index("transaction_signatures_transaction_idx").on(table.transactionId)],
);

export const NONCE_FILL_REASONS = ["cancelled", "run-ended", "orphaned"] as const;
export type NonceFillReason = (typeof NONCE_FILL_REASONS)[number];

/**
 * Zero-value self-transfers ddwf signed to fill a nonce: a cancellation, the nonce of a run that
 * ended without finishing, or a nonce nobody held.
 */
export const nonceFills = pgTable(
  "nonce_fills",
  {
    id: bigserial({ mode: "number" }).primaryKey(),
    chainId: integer().notNull(),
    organizationId: text().notNull(),
    signerAddress: text().notNull(),
    nonce: integer().notNull(),
    /** The first fill signed for the nonce. */
    hash: text().notNull(),
    reason: text().$type<NonceFillReason>().notNull(),
    /** The transaction whose nonce it fills, when there is one. */
    transactionId: text(),
    createdAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  // One fill per nonce of a sender: later fee bumps of the same fill are signatures, not new fills.
  (table) => [uniqueIndex("nonce_fills_sender_nonce_unique").on(table.chainId, table.signerAddress, table.nonce)],
);
