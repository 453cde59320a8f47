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
 * transaction) and the status row. The change carries the whole status: a field left out is stored
 * as null (a reorg clears the block number, for instance).
 */
export async function recordTransactionPhase(db: Database, change: RecordTransactionPhaseParameters): Promise<RecordTransactionPhaseReturnType> {
  const [recorded] = await recordTransactionPhases(db, { transactionId: change.transactionId, changes: [change] });
  return recorded!;
}

/**
 * Records changes made in a row (confirming, then completed) in one statement: their transitions
 * numbered after every earlier one, and the status row as the last change leaves it. Keys already
 * recorded (a retried step) change nothing and answer their sequences.
 */
export async function recordTransactionPhases(
  db: Database,
  parameters: { transactionId: string; changes: Omit<RecordTransactionPhaseParameters, "transactionId">[] },
): Promise<RecordTransactionPhaseReturnType[]> {
  const { transactionId, changes } = parameters;
  const last = changes.at(-1);
  if (!last) return [];
  const at = (last.at ?? new Date()).toISOString();
  const rows = changes.map(
    (change, index) =>
      sql`(${index + 1}::int, ${change.key}::text, ${change.phase}::text, ${change.txHash ?? null}::text, ${change.nonce ?? null}::int, ${change.errorCode ?? null}::text, ${change.errorMessage ?? null}::text, ${change.reason ?? null}::text)`,
  );
  const keys = sql.join(changes.map((change) => sql`${change.key}::text`), sql`, `);
  const result = await db.execute<{ key: string; sequence: number; recorded: boolean }>(sql`
    with existing as (
      select ${transactionTransitions.key} as key, ${transactionTransitions.sequence} as sequence
      from ${transactionTransitions}
      where ${transactionTransitions.transactionId} = ${transactionId} and ${transactionTransitions.key} in (${keys})
    ), base as (
      select coalesce(max(${transactionTransitions.sequence}), 0) as sequence from ${transactionTransitions} where ${transactionTransitions.transactionId} = ${transactionId}
    ), inserted as (
      insert into ${transactionTransitions} (transaction_id, key, sequence, phase, tx_hash, nonce, error_code, error_message, reason, at)
      select ${transactionId}, v.key, (select sequence from base) + v.ord, v.phase, v.tx_hash, v.nonce, v.error_code, v.error_message, v.reason, ${at}::timestamptz
      from (values ${sql.join(rows, sql`, `)}) as v(ord, key, phase, tx_hash, nonce, error_code, error_message, reason)
      where not exists (select 1 from existing)
      returning key, sequence
    ), updated as (
      update ${transactions} set
        phase = ${last.phase}, tx_hash = ${last.txHash ?? null}, nonce = ${last.nonce ?? null}, error_code = ${last.errorCode ?? null},
        error_message = ${last.errorMessage ?? null}, block_number = ${last.blockNumber ?? null}, block_hash = ${last.blockHash ?? null},
        updated_at = ${at}::timestamptz, phase_changed_at = ${at}::timestamptz
      where ${transactions.id} = ${transactionId} and exists (select 1 from inserted)
      returning 1
    )
    select key, sequence, true as recorded from inserted
    union all
    select key, sequence, false as recorded from existing
  `);
  const byKey = new Map([...result].map((row) => [row.key, { sequence: Number(row.sequence), recorded: Boolean(row.recorded) }]));
  return changes.map((change) => {
    const found = byKey.get(change.key);
    if (!found) throw new Error(`transition ${change.key} of transaction ${transactionId} was neither recorded nor found`);
    return found;
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
