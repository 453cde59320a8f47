/** Asset issuances: the stored request, the stage reached, the token, and the outcome. */
import { and, eq, notInArray } from "drizzle-orm";
import type { Database } from "../client.ts";
import { assetIssuances } from "../schema/index.ts";

export type AssetIssuanceRow = typeof assetIssuances.$inferSelect;
export type NewAssetIssuance = Pick<typeof assetIssuances.$inferInsert, "id" | "organizationId" | "chainId" | "issuerAddress" | "request">;

/** Stages after which the record no longer changes. */
const FINAL_STAGES = ["completed", "failed", "failed-compensated", "failed-needs-operator"];

/** Stores an issuance request once. A second insert with the same id returns the stored row untouched. */
export async function insertAssetIssuance(db: Database, row: NewAssetIssuance): Promise<{ issuance: AssetIssuanceRow; created: boolean }> {
  const inserted = await db.insert(assetIssuances).values(row).onConflictDoNothing({ target: assetIssuances.id }).returning();
  if (inserted[0]) return { issuance: inserted[0], created: true };
  const existing = await getAssetIssuance(db, row.id);
  if (!existing) throw new Error(`asset issuance ${row.id} neither inserted nor found`);
  return { issuance: existing, created: false };
}

export async function getAssetIssuance(db: Database, id: string): Promise<AssetIssuanceRow | undefined> {
  const rows = await db.select().from(assetIssuances).where(eq(assetIssuances.id, id)).limit(1);
  return rows[0];
}

/**
 * Records the stage an issuance entered (with the token once known, and the outcome when it ends).
 * A finished issuance is never changed again, so a retried step cannot reopen it.
 */
export async function recordAssetIssuanceStage(
  db: Database,
  id: string,
  change: { stage: string; tokenAddress?: string | null; outcome?: Record<string, unknown> },
): Promise<boolean> {
  const updated = await db
    .update(assetIssuances)
    .set({
      stage: change.stage,
      ...(change.tokenAddress ? { tokenAddress: change.tokenAddress.toLowerCase() } : {}),
      ...(change.outcome ? { outcome: change.outcome } : {}),
      updatedAt: new Date(),
    })
    .where(and(eq(assetIssuances.id, id), notInArray(assetIssuances.stage, FINAL_STAGES)))
    .returning({ id: assetIssuances.id });
  return updated.length > 0;
}
