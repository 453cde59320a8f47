/** The signed bytes of each transaction: what any run of its key may send or watch, never re-sign. */
import { and, asc, eq, isNull } from "drizzle-orm";
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
 * first; answers whether it recorded. The record's row is locked meanwhile, so a cancellation either
 * comes before (and nothing is signed) or after (and the signed bytes are known to whoever cancels).
 */
export async function recordSignatureUnlessCancelled(db: Database, signature: NewTransactionSignature): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [record] = await tx
      .select({ cancelRequestedAt: transactions.cancelRequestedAt })
      .from(transactions)
      .where(eq(transactions.id, signature.transactionId))
      .for("update");
    if (!record) throw new Error(`transaction ${signature.transactionId} is not stored`);
    if (record.cancelRequestedAt) return false;
    await tx.insert(transactionSignatures).values(signature).onConflictDoNothing({ target: transactionSignatures.hash });
    return true;
  });
}

/** Voids every signature of one nonce of a transaction (the nonce was handed back unsent). */
export async function voidTransactionSignatures(db: Database, parameters: { transactionId: string; nonce: number; at?: Date }): Promise<void> {
  await db
    .update(transactionSignatures)
    .set({ refusedAt: parameters.at ?? new Date() })
    .where(and(eq(transactionSignatures.transactionId, parameters.transactionId), eq(transactionSignatures.nonce, parameters.nonce), isNull(transactionSignatures.refusedAt)));
}
