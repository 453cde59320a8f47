/** Transaction operations and their status record. */
import { and, asc, eq, inArray, lt, notInArray, sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { transactions, transactionTransitions, type TransactionPhase } from "../schema/index.ts";

export type TransactionRow = typeof transactions.$inferSelect;
export type NewTransaction = Omit<typeof transactions.$inferInsert, "phase" | "createdAt" | "updatedAt" | "phaseChangedAt">;

/**
 * Stores an operation once. A second insert with the same id returns the stored row untouched; an
 * idempotency key already used by another transaction of the organization is a unique violation.
 */
export async function insertTransaction(db: Database, row: NewTransaction): Promise<{ transaction: TransactionRow; created: boolean }> {
  const inserted = await db.insert(transactions).values(row).onConflictDoNothing({ target: transactions.id }).returning();
  if (inserted[0]) return { transaction: inserted[0], created: true };
  const existing = await getTransaction(db, row.id);
  if (!existing) throw new Error(`transaction ${row.id} neither inserted nor found`);
  return { transaction: existing, created: false };
}

export async function getTransaction(db: Database, id: string): Promise<TransactionRow | undefined> {
  const rows = await db.select().from(transactions).where(eq(transactions.id, id)).limit(1);
  return rows[0];
}

export type RecordTransactionPhaseParameters = {
  transactionId: string;
  /**
   * Who writes this change at which step (`<invocation id>/<n>`): the same key twice is one change,
   * so a retried step writes one row, and a later run of the transaction writes rows of its own.
   */
  key: string;
  phase: TransactionPhase;
  txHash?: string | null | undefined;
  nonce?: number | null | undefined;
  errorCode?: string | null | undefined;
  errorMessage?: string | null | undefined;
  blockNumber?: number | null | undefined;
  blockHash?: string | null | undefined;
  reason?: string | null | undefined;
  at?: Date;
};

export type RecordTransactionPhaseReturnType = {
  /** Its place among all transitions of the transaction: the event of the change is named by it. */
  sequence: number;
  /** False when the key was recorded before (a retried step): nothing changed this time. */
  recorded: boolean;
};

/**
 * Records one phase change: the transition row (numbered after every earlier one of the
 * transaction) and the status row, in one SQL transaction. The change carries the whole status: a
 * field left out is stored as null (a reorg clears the block number, for instance).
 */
export async function recordTransactionPhase(db: Database, change: RecordTransactionPhaseParameters): Promise<RecordTransactionPhaseReturnType> {
  const at = change.at ?? new Date();
  return db.transaction(async (tx) => {
    const [earlier] = await tx
      .select({ sequence: transactionTransitions.sequence })
      .from(transactionTransitions)
      .where(and(eq(transactionTransitions.transactionId, change.transactionId), eq(transactionTransitions.key, change.key)))
      .limit(1);
    if (earlier) return { sequence: earlier.sequence, recorded: false };
    const [inserted] = await tx
      .insert(transactionTransitions)
      .values({
        transactionId: change.transactionId,
        key: change.key,
        sequence: sql`(select coalesce(max(${transactionTransitions.sequence}), 0) + 1 from ${transactionTransitions} where ${transactionTransitions.transactionId} = ${change.transactionId})`,
        phase: change.phase,
        txHash: change.txHash ?? null,
        nonce: change.nonce ?? null,
        errorCode: change.errorCode ?? null,
        errorMessage: change.errorMessage ?? null,
        reason: change.reason ?? null,
        at,
      })
      .returning({ sequence: transactionTransitions.sequence });
    await tx
      .update(transactions)
      .set({
        phase: change.phase,
        txHash: change.txHash ?? null,
        nonce: change.nonce ?? null,
        errorCode: change.errorCode ?? null,
        errorMessage: change.errorMessage ?? null,
        blockNumber: change.blockNumber ?? null,
        blockHash: change.blockHash ?? null,
        updatedAt: at,
        phaseChangedAt: at,
      })
      .where(eq(transactions.id, change.transactionId));
    return { sequence: inserted!.sequence, recorded: true };
  });
}

/**
 * A dead-lettered transaction being replayed goes back to `submitting` (one transition, reason
 * `dead-letter-replay`), only while it is still `dead-letter`. Answers whether it did.
 */
export async function reopenDeadLetteredTransaction(db: Database, parameters: { transactionId: string; key: string; at?: Date }): Promise<boolean> {
  const at = parameters.at ?? new Date();
  return db.transaction(async (tx) => {
    const [reopened] = await tx
      .update(transactions)
      .set({ phase: "submitting", errorCode: null, errorMessage: null, updatedAt: at, phaseChangedAt: at })
      .where(and(eq(transactions.id, parameters.transactionId), eq(transactions.phase, "dead-letter")))
      .returning({ txHash: transactions.txHash, nonce: transactions.nonce });
    if (!reopened) return false;
    await tx.insert(transactionTransitions).values({
      transactionId: parameters.transactionId,
      key: parameters.key,
      sequence: sql`(select coalesce(max(${transactionTransitions.sequence}), 0) + 1 from ${transactionTransitions} where ${transactionTransitions.transactionId} = ${parameters.transactionId})`,
      phase: "submitting",
      txHash: reopened.txHash,
      nonce: reopened.nonce,
      reason: "dead-letter-replay",
      at,
    });
    return true;
  });
}

/**
 * Notes that a cancellation was asked for, unless the record already ended. Answers the record's
 * phase, and whether the request took (a second request keeps the first one's time and reason).
 */
export async function requestTransactionCancellation(
  db: Database,
  parameters: { transactionId: string; reason: string; at?: Date },
): Promise<{ phase: TransactionPhase; accepted: boolean } | null> {
  const [updated] = await db
    .update(transactions)
    .set({
      cancelRequestedAt: sql`coalesce(${transactions.cancelRequestedAt}, ${(parameters.at ?? new Date()).toISOString()}::timestamptz)`,
      cancelReason: sql`coalesce(${transactions.cancelReason}, ${parameters.reason})`,
      updatedAt: new Date(),
    })
    .where(and(eq(transactions.id, parameters.transactionId), notInArray(transactions.phase, ["completed", "failed"])))
    .returning({ phase: transactions.phase });
  if (updated) return { phase: updated.phase, accepted: true };
  const existing = await getTransaction(db, parameters.transactionId);
  return existing ? { phase: existing.phase, accepted: false } : null;
}

export async function listTransactionTransitions(db: Database, transactionId: string) {
  return db
    .select()
    .from(transactionTransitions)
    .where(eq(transactionTransitions.transactionId, transactionId))
    .orderBy(asc(transactionTransitions.sequence));
}

/** Records in any of `phases` not changed since `olderThan`: candidates for reconciliation. */
export async function listTransactionsInPhases(
  db: Database,
  parameters: { phases: readonly TransactionPhase[]; olderThan: Date; limit: number },
): Promise<TransactionRow[]> {
  return db
    .select()
    .from(transactions)
    .where(and(inArray(transactions.phase, [...parameters.phases]), lt(transactions.phaseChangedAt, parameters.olderThan)))
    .orderBy(asc(transactions.phaseChangedAt))
    .limit(parameters.limit);
}

export async function countTransactionsByPhase(db: Database): Promise<Record<string, number>> {
  const rows = await db
    .select({ phase: transactions.phase, count: sql<number>`count(*)::int` })
    .from(transactions)
    .groupBy(transactions.phase);
  return Object.fromEntries(rows.map((row) => [row.phase, row.count]));
}
