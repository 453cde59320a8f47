/** Reconciliation: the records it looks at, the repairs it makes, the reports it leaves. */
import { and, asc, desc, eq, gt, gte, inArray, isNotNull, lt, or, sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { reconciliationReports, transactions, transactionTransitions, type ReconciliationFinding, type TransactionPhase } from "../schema/index.ts";

/**
 * One page of records in `phases` unchanged since `olderThan`, in id order after `afterId`. A
 * reconciler that keeps the last id as its cursor reaches every such record in
 * ceil(count / limit) + 1 rounds, however long some of them stay put.
 */
export async function listStaleTransactions(
  db: Database,
  parameters: { chainId: number; phases: readonly TransactionPhase[]; olderThan: Date; limit: number; afterId?: string | null },
) {
  return db
    .select({ id: transactions.id, phase: transactions.phase, txHash: transactions.txHash, nonce: transactions.nonce, phaseChangedAt: transactions.phaseChangedAt })
    .from(transactions)
    .where(
      and(
        eq(transactions.chainId, parameters.chainId),
        inArray(transactions.phase, [...parameters.phases]),
        lt(transactions.phaseChangedAt, parameters.olderThan),
        parameters.afterId ? gt(transactions.id, parameters.afterId) : undefined,
      ),
    )
    .orderBy(asc(transactions.id))
    .limit(parameters.limit);
}

export type ActiveSender = { organizationId: string; signerAddress: string };

/**
 * One page of senders (organization and signer) with transactions on the chain since `since`, in
 * (organization, signer) order after `after`: a cursor reaches every sender in bounded rounds.
 */
export async function listActiveSenders(
  db: Database,
  parameters: { chainId: number; since: Date; limit: number; after?: ActiveSender | null },
): Promise<ActiveSender[]> {
  const after = parameters.after;
  return db
    .selectDistinct({ organizationId: transactions.organizationId, signerAddress: transactions.signerAddress })
    .from(transactions)
    .where(
      and(
        eq(transactions.chainId, parameters.chainId),
        gte(transactions.updatedAt, parameters.since),
        after
          ? or(
              gt(transactions.organizationId, after.organizationId),
              and(eq(transactions.organizationId, after.organizationId), gt(transactions.signerAddress, after.signerAddress)),
            )
          : undefined,
      ),
    )
    .orderBy(asc(transactions.organizationId), asc(transactions.signerAddress))
    .limit(parameters.limit);
}

/** Completed records whose block is at or above `fromBlock`: still young enough to be reorged away. */
export async function listRecentlyCompleted(db: Database, parameters: { chainId: number; fromBlock: number; limit: number }) {
  return db
    .select({ id: transactions.id, txHash: transactions.txHash, nonce: transactions.nonce, blockNumber: transactions.blockNumber, blockHash: transactions.blockHash })
    .from(transactions)
    .where(
      and(
        eq(transactions.chainId, parameters.chainId),
        eq(transactions.phase, "completed"),
        isNotNull(transactions.blockHash),
        gte(transactions.blockNumber, parameters.fromBlock),
      ),
    )
    .orderBy(desc(transactions.blockNumber))
    .limit(parameters.limit);
}

export type RepairedStatus = {
  phase: TransactionPhase;
  txHash: string | null;
  nonce: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  blockNumber: number | null;
};

/**
 * Brings a status record in line with its workflow, but only while the record still shows what the
 * reconciler read (same phase, same time of change): a record that moved on meanwhile is newer than
 * the repair and is left alone. Answers whether it repaired.
 */
export async function repairTransactionRecord(
  db: Database,
  id: string,
  status: RepairedStatus,
  seen: { phase: TransactionPhase; phaseChangedAt: Date },
): Promise<boolean> {
  const updated = await db
    .update(transactions)
    .set({ ...status, updatedAt: sql`now()`, phaseChangedAt: sql`now()` })
    .where(and(eq(transactions.id, id), eq(transactions.phase, seen.phase), eq(transactions.phaseChangedAt, seen.phaseChangedAt)))
    .returning({ id: transactions.id });
  return updated.length > 0;
}

/**
 * A completed transaction whose block left the chain goes back to `confirming`: one transition
 * (keyed by the lost block, so a retried step writes it once), and only while the record still
 * names that block. Answers the transition's sequence, or null when the record had moved on.
 */
export async function reopenReorgedTransaction(db: Database, parameters: { transactionId: string; blockHash: string; at?: Date }): Promise<{ sequence: number } | null> {
  const at = parameters.at ?? new Date();
  const key = `reconcile/reorg/${parameters.blockHash}`;
  return db.transaction(async (tx) => {
    const [earlier] = await tx
      .select({ sequence: transactionTransitions.sequence })
      .from(transactionTransitions)
      .where(and(eq(transactionTransitions.transactionId, parameters.transactionId), eq(transactionTransitions.key, key)))
      .limit(1);
    if (earlier) return earlier;
    const [reopened] = await tx
      .update(transactions)
      .set({ phase: "confirming", blockNumber: null, blockHash: null, updatedAt: at, phaseChangedAt: at })
      .where(and(eq(transactions.id, parameters.transactionId), eq(transactions.phase, "completed"), eq(transactions.blockHash, parameters.blockHash)))
      .returning({ txHash: transactions.txHash, nonce: transactions.nonce });
    if (!reopened) return null;
    const [inserted] = await tx
      .insert(transactionTransitions)
      .values({
        transactionId: parameters.transactionId,
        key,
        sequence: sql`(select coalesce(max(${transactionTransitions.sequence}), 0) + 1 from ${transactionTransitions} where ${transactionTransitions.transactionId} = ${parameters.transactionId})`,
        phase: "confirming",
        txHash: reopened.txHash,
        nonce: reopened.nonce,
        reason: "reorg",
        at,
      })
      .returning({ sequence: transactionTransitions.sequence });
    return { sequence: inserted!.sequence };
  });
}

/** Phase and cancellation of the records holding nonces, for the reconciler's view of a sender. */
export async function listHolderRecords(db: Database, ids: string[]) {
  if (ids.length === 0) return [];
  return db
    .select({ id: transactions.id, phase: transactions.phase, txHash: transactions.txHash, nonce: transactions.nonce, cancelRequestedAt: transactions.cancelRequestedAt })
    .from(transactions)
    .where(inArray(transactions.id, ids));
}

export async function insertReconciliationReport(db: Database, report: typeof reconciliationReports.$inferInsert) {
  const [row] = await db.insert(reconciliationReports).values(report).returning();
  return row!;
}

export async function latestReconciliationReports(db: Database, chainId: number, limit = 10) {
  return db.select().from(reconciliationReports).where(eq(reconciliationReports.chainId, chainId)).orderBy(desc(reconciliationReports.id)).limit(limit);
}

export type { ReconciliationFinding };
