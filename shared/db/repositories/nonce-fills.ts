/** Zero-value self-transfers that filled a nonce, with the reason for each. */
import { and, asc, eq } from "drizzle-orm";
import type { Database } from "../client.ts";
import { nonceFills, type NonceFillReason } from "../schema/index.ts";

export type NonceFillRow = typeof nonceFills.$inferSelect;

export type NewNonceFill = {
  chainId: number;
  organizationId: string;
  signerAddress: string;
  nonce: number;
  hash: string;
  reason: NonceFillReason;
  transactionId: string | null;
};

/** Stores the fill of a nonce once (a fee bump of it stores nothing); answers whether this call stored it. */
export async function recordNonceFill(db: Database, fill: NewNonceFill): Promise<boolean> {
  const inserted = await db
    .insert(nonceFills)
    .values(fill)
    .onConflictDoNothing({ target: [nonceFills.chainId, nonceFills.signerAddress, nonceFills.nonce] })
    .returning({ id: nonceFills.id });
  return inserted.length > 0;
}

export async function listNonceFills(db: Database, filter: { chainId: number; signerAddress: string }): Promise<NonceFillRow[]> {
  return db
    .select()
    .from(nonceFills)
    .where(and(eq(nonceFills.chainId, filter.chainId), eq(nonceFills.signerAddress, filter.signerAddress.toLowerCase())))
    .orderBy(asc(nonceFills.nonce), asc(nonceFills.id));
}
