/** The signed bytes of each transaction: what any run of its key may send or watch, never re-sign. */
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { transactions, transactionSignatures, type SignatureKind } from "../schema/index.ts";

export type TransactionSignatureRow = typeof transactionSignatures.$inferSelect;

export type NewTransactionSignature = {
  transactionId: string;
  nonce: number;
  hash: string;
  raw: string;
  maxFeePerGas: string;
  maxPriorityFeePerGas: string;
  kind: SignatureKind;
};

/** Stores a signature once (by its hash): a retried step stores nothing new. */
export async function recordTransactionSignature(db: Database, signature: NewTransactionSignature): Promise<void> {
  await db.insert(transactionSignatures).values(signature).onConflictDoNothing({ target: transactionSignatures.hash });
}

/** Every signature of the transaction, oldest first. */
export async function listTransactionSignatures(db: Database, transactionId: string): Promise<TransactionSignatureRow[]> {
  return db.select().from(transactionSignatures).where(eq(transactionSignatures.transactionId, transactionId)).orderBy(asc(transactionSignatures.id));
}

/** Signatures the node may still accept or has mined: all but those it refused for good. */
export async function listLiveTransactionSignatures(db: Database, transactionId: string): Promise<TransactionSignatureRow[]> {
  return db
    .select()
    .from(transactionSignatures)
    .where(and(eq(transactionSignatures.transactionId, transactionId), isNull(transactionSignatures.refusedAt)))
    .orderBy(asc(transactionSignatures.id));
}

/** Marks bytes the node refused for good (their nonce is handed to the next transaction). */
export async function markTransactionSignatureRefused(db: Database, hash: string, at = new Date()): Promise<void> {
  await db.update(transactionSignatures).set({ refusedAt: at }).where(eq(transactionSignatures.hash, hash));
}

/**
 * Records the first signature of a nonce unless a cancellation of the transaction was asked for
 * first; answers whether it recorded. One statement: a cancellation committed before it is seen
 * (nothing is recorded, nothing signed is ever sent); one committed after it finds the signature
 * stored, and whoever cancels knows the bytes.
 */
export async function recordSignatureUnlessCancelled(db: Database, signature: NewTransactionSignature): Promise<boolean> {
  const result = await db.execute<{ recorded: boolean }>(sql`
    with record as (
      select ${transactions.cancelRequestedAt} as cancel_requested_at from ${transactions} where ${transactions.id} = ${signature.transactionId}
    ), inserted as (
      insert into ${transactionSignatures} (transaction_id, nonce, hash, raw, max_fee_per_gas, max_priority_fee_per_gas, kind)
      select ${signature.transactionId}, ${signature.nonce}, ${signature.hash}, ${signature.raw}, ${signature.maxFeePerGas}, ${signature.maxPriorityFeePerGas}, ${signature.kind}
      from record where record.cancel_requested_at is null
      on conflict (hash) do nothing
      returning 1
    )
    select (select count(*) from record) as found, (select cancel_requested_at is null from record) as open
  `);
  const [row] = [...result] as unknown as { found: number | string; open: boolean | null }[];
  if (!row || Number(row.found) === 0) throw new Error(`transaction ${signature.transactionId} is not stored`);
  return row.open === true;
}

/** Voids every signature of one nonce of a transaction (the nonce was handed back unsent). */
export async function voidTransactionSignatures(db: Database, parameters: { transactionId: string; nonce: number; at?: Date }): Promise<void> {
  await db
    .update(transactionSignatures)
    .set({ refusedAt: parameters.at ?? new Date() })
    .where(and(eq(transactionSignatures.transactionId, parameters.transactionId), eq(transactionSignatures.nonce, parameters.nonce), isNull(transactionSignatures.refusedAt)));
}
