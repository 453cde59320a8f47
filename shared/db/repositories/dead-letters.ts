/** Dead letters: work that spent its retry budget, with its cause, until replayed or discarded. */
import { and, desc, eq, sql, type SQL } from "drizzle-orm";
import type { Database } from "../client.ts";
import { deadLetters, type DeadLetterKind, type DeadLetterStatus } from "../schema/index.ts";

export type DeadLetterRow = typeof deadLetters.$inferSelect;
export type NewDeadLetter = {
  id: string;
  kind: DeadLetterKind;
  referenceId: string;
  causeCode: string;
  causeMessage: string;
  payload: Record<string, unknown>;
};

/**
 * Files a dead letter. Its id is derived from the work, so a retried step files it once; filing it
 * again after a replay reopens it with the new cause.
 */
export async function insertDeadLetter(db: Database, letter: NewDeadLetter): Promise<DeadLetterRow> {
  const [row] = await db
    .insert(deadLetters)
    .values(letter)
    .onConflictDoUpdate({
      target: deadLetters.id,
      set: { causeCode: letter.causeCode, causeMessage: letter.causeMessage, payload: letter.payload, status: "open" },
      setWhere: sql`${deadLetters.status} <> 'open'`,
    })
    .returning();
  return row ?? (await getDeadLetter(db, letter.id))!;
}

export async function getDeadLetter(db: Database, id: string): Promise<DeadLetterRow | undefined> {
  const rows = await db.select().from(deadLetters).where(eq(deadLetters.id, id)).limit(1);
  return rows[0];
}

export async function listDeadLetters(
  db: Database,
  filter: { status?: DeadLetterStatus; kind?: DeadLetterKind; limit?: number } = {},
): Promise<DeadLetterRow[]> {
  const conditions: SQL[] = [];
  if (filter.status) conditions.push(eq(deadLetters.status, filter.status));
  if (filter.kind) conditions.push(eq(deadLetters.kind, filter.kind));
  return db
    .select()
    .from(deadLetters)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(desc(deadLetters.createdAt), desc(deadLetters.id))
    .limit(filter.limit ?? 100);
}

/** Marks an open dead letter replayed; false when it was not open (already replayed or discarded). */
export async function markDeadLetterReplayed(db: Database, id: string, at = new Date()): Promise<boolean> {
  const updated = await db
    .update(deadLetters)
    .set({ status: "replayed", replayedAt: at, replayCount: sql`${deadLetters.replayCount} + 1` })
    .where(and(eq(deadLetters.id, id), eq(deadLetters.status, "open")))
    .returning({ id: deadLetters.id });
  return updated.length > 0;
}

export async function discardDeadLetter(db: Database, id: string): Promise<boolean> {
  const updated = await db
    .update(deadLetters)
    .set({ status: "discarded" })
    .where(and(eq(deadLetters.id, id), eq(deadLetters.status, "open")))
    .returning({ id: deadLetters.id });
  return updated.length > 0;
}
