/** Identity-recovery invitations. */
import { and, eq, inArray } from "drizzle-orm";
import type { Database } from "../client.ts";
import { recoveryInvitations, type RecoveryInvitationStatus } from "../schema/index.ts";

export type RecoveryInvitationRow = typeof recoveryInvitations.$inferSelect;
export type NewRecoveryInvitation = Omit<typeof recoveryInvitations.$inferInsert, "status" | "newWallet" | "outcome" | "createdAt" | "updatedAt">;

export async function createRecoveryInvitation(db: Database, invitation: NewRecoveryInvitation): Promise<RecoveryInvitationRow> {
  const [row] = await db.insert(recoveryInvitations).values(invitation).returning();
  return row!;
}

export async function getRecoveryInvitation(db: Database, id: string): Promise<RecoveryInvitationRow | undefined> {
  const rows = await db.select().from(recoveryInvitations).where(eq(recoveryInvitations.id, id)).limit(1);
  return rows[0];
}

/**
 * Moves an invitation to its next status. Only moves out of a non-final status, so a replayed step
 * cannot reopen a finished invitation.
 */
export async function setRecoveryInvitationStatus(
  db: Database,
  id: string,
  change: { status: RecoveryInvitationStatus; newWallet?: string; outcome?: Record<string, unknown> },
): Promise<boolean> {
  const updated = await db
    .update(recoveryInvitations)
    .set({ ...change, updatedAt: new Date() })
    .where(and(eq(recoveryInvitations.id, id), inArray(recoveryInvitations.status, ["pending", "accepted"])))
    .returning({ id: recoveryInvitations.id });
  return updated.length > 0;
}
