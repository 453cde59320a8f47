/** Reconciliation: the records it looks at, the repairs it makes, the reports it leaves. */
import { and, desc, eq, gte, inArray, lt, sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { reconciliationReports, transactions, type ReconciliationFinding, type TransactionPhase } from "../schema/index.ts";

export async function listStaleTransactions(
  db: Database,
  parameters: { chainId: number; phases: readonly TransactionPhase[]; olderThan: Date; limit: number },
) {
  return db
    .select({ id: transactions.id, phase: transactions.phase, txHash: transactions.txHash, nonce: transactions.nonce })
    .from(transactions)
    .where(and(eq(transactions.chainId, parameters.chainId), inArray(transactions.phase, [...parameters.phases]), lt(transactions.phaseChangedAt, parameters.olderThan)))
    .orderBy(transactions.phaseChangedAt)
    .limit(parameters.limit);
}

/** Senders (organization and signer) with transactions on the chain since `since`. */
export async function listActiveSenders(db: Database, parameters: { chainId: number; since: Date; limit: number }) {
  return db
    .selectDistinct({ organizationId: transactions.organizationId, signerAddress: transactions.signerAddress })
    .from(transactions)
    .where(and(eq(transactions.chainId, parameters.chainId), gte(transactions.updatedAt, parameters.since)))
    .limit(parameters.limit);
}

/** Brings a status record in line with its workflow (the workflow is the truth). */
export async function repairTransactionRecord(
  db: Database,
  id: string,
  status: { phase: TransactionPhase; txHash: string | null; nonce: number | null; errorCode: string | null; errorMessage: string | null; blockNumber: number | null },
): Promise<void> {
  await db
    .update(transactions)
    .set({ ...status, updatedAt: sql`now()`, phaseChangedAt: sql`now()` })
    .where(eq(transactions.id, id));
}

export async function insertReconciliationReport(db: Database, report: typeof reconciliationReports.$inferInsert) {
  const [row] = await db.insert(reconciliationReports).values(report).returning();
  return row!;
}

export async function latestReconciliationReports(db: Database, chainId: number, limit = 10) {
  return db.select().from(reconciliationReports).where(eq(reconciliationReports.chainId, chainId)).orderBy(desc(reconciliationReports.id)).limit(limit);
}

export type { ReconciliationFinding };
