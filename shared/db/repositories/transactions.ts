/** Transaction operations and their status record. */
import { and, asc, eq, inArray, lt, sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { transactions, transactionTransitions, type TransactionPhase } from "../schema/index.ts";

export type TransactionRow = typeof transactions.$inferSelect;
export type NewTransaction = Omit<typeof transactions.$inferInsert, "phase" | "createdAt" | "updatedAt" | "phaseChangedAt">;

/** Stores an operation once. A second insert with the same id returns the stored row untouched. */
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
  /** Position of this change in the workflow; the same sequence twice is one change. */
  sequence: number;
  phase: TransactionPhase;
  txHash?: string | undefined;
  nonce?: number | undefined;
  errorCode?: string | undefined;
  errorMessage?: string | undefined;
  blockNumber?: number | undefined;
  at?: Date;
};

/**
 * Records one phase change: the transition row and the status row, in one SQL transaction. A
 * retried step (same sequence) changes nothing, so a replay never moves the record backwards.
 * The change carries the whole status: a field left out is stored as null (a reorg clears the
 * block number, for instance).
 */
export async function recordTransactionPhase(db: Database, change: RecordTransactionPhaseParameters): Promise<{ recorded: boolean }> {
  const at = change.at ?? new Date();
  return db.transaction(async (tx) => {
    const inserted = await tx
      .insert(transactionTransitions)
      .values({
        transactionId: change.transactionId,
        sequence: change.sequence,
        phase: change.phase,
        txHash: change.txHash ?? null,
        nonce: change.nonce ?? null,
        errorCode: change.errorCode ?? null,
        errorMessage: change.errorMessage ?? null,
        at,
      })
      .onConflictDoNothing()
      .returning({ id: transactionTransitions.id });
    if (inserted.length === 0) return { recorded: false };
    await tx
      .update(transactions)
      .set({
        phase: change.phase,
        txHash: change.txHash ?? null,
        nonce: change.nonce ?? null,
        errorCode: change.errorCode ?? null,
        errorMessage: change.errorMessage ?? null,
        blockNumber: change.blockNumber ?? null,
        updatedAt: at,
        phaseChangedAt: at,
      })
      .where(eq(transactions.id, change.transactionId));
    return { recorded: true };
  });
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
