/** The operations audit log: one row per operator action, listed newest first with a cursor. */
import { and, desc, eq, gte, lt, lte, or, type SQL } from "drizzle-orm";
import type { Database } from "../client.ts";
import { operationsAuditLog, type AuditOutcome } from "../schema/index.ts";

export type AuditEntryRow = typeof operationsAuditLog.$inferSelect;
export type NewAuditEntry = {
  requestId: string;
  actorId: string;
  actorRole: string;
  route: string;
  arguments: Record<string, unknown>;
  reason?: string | null;
  startedAt?: Date;
};

export async function insertAuditEntry(db: Database, entry: NewAuditEntry): Promise<AuditEntryRow> {
  const [row] = await db
    .insert(operationsAuditLog)
    .values({ ...entry, reason: entry.reason ?? null, startedAt: entry.startedAt ?? new Date() })
    .returning();
  return row!;
}

export async function finishAuditEntry(
  db: Database,
  id: string,
  result: { outcome: AuditOutcome; errorCode?: string | null; errorMessage?: string | null; finishedAt?: Date },
): Promise<void> {
  await db
    .update(operationsAuditLog)
    .set({
      outcome: result.outcome,
      errorCode: result.errorCode ?? null,
      errorMessage: result.errorMessage ?? null,
      finishedAt: result.finishedAt ?? new Date(),
    })
    .where(eq(operationsAuditLog.id, id));
}

/** Opaque position in the newest-first order: the last row's start time and id. */
export type AuditCursor = { startedAt: string; id: string };

export function encodeAuditCursor(cursor: AuditCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Start times a row can have: 1970 to 9999 (year 0 or 275760 would break PostgreSQL or toISOString). */
const CURSOR_EARLIEST = Date.UTC(1970, 0, 1);
const CURSOR_LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** The cursor in `value`, or undefined when it is not one this module encoded (ids are uuids, times in range). */
export function decodeAuditCursor(value: string): AuditCursor | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as Partial<AuditCursor>;
    if (
      typeof parsed.startedAt === "string" &&
      typeof parsed.id === "string" &&
      UUID_PATTERN.test(parsed.id) &&
      Date.parse(parsed.startedAt) >= CURSOR_EARLIEST &&
      Date.parse(parsed.startedAt) <= CURSOR_LATEST
    ) {
      return { startedAt: parsed.startedAt, id: parsed.id };
    }
  } catch {
    // fall through
  }
  return undefined;
}

export type ListAuditEntriesParameters = {
  limit: number;
  before?: AuditCursor | undefined;
  route?: string | undefined;
  actorId?: string | undefined;
  outcome?: AuditOutcome | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
};

export async function listAuditEntries(
  db: Database,
  parameters: ListAuditEntriesParameters,
): Promise<{ entries: AuditEntryRow[]; nextCursor: AuditCursor | null }> {
  const conditions: SQL[] = [];
  if (parameters.route) conditions.push(eq(operationsAuditLog.route, parameters.route));
  if (parameters.actorId) conditions.push(eq(operationsAuditLog.actorId, parameters.actorId));
  if (parameters.outcome) conditions.push(eq(operationsAuditLog.outcome, parameters.outcome));
  if (parameters.from) conditions.push(gte(operationsAuditLog.startedAt, parameters.from));
  if (parameters.to) conditions.push(lte(operationsAuditLog.startedAt, parameters.to));
  if (parameters.before) {
    const at = new Date(parameters.before.startedAt);
    conditions.push(
      or(lt(operationsAuditLog.startedAt, at), and(eq(operationsAuditLog.startedAt, at), lt(operationsAuditLog.id, parameters.before.id)))!,
    );
  }
  const rows = await db
    .select()
    .from(operationsAuditLog)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(desc(operationsAuditLog.startedAt), desc(operationsAuditLog.id))
    .limit(parameters.limit + 1);
  const entries = rows.slice(0, parameters.limit);
  const last = entries.at(-1);
  const nextCursor = rows.length > parameters.limit && last ? { startedAt: last.startedAt.toISOString(), id: last.id } : null;
  return { entries, nextCursor };
}
