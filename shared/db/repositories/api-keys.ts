/**
 * Operator API keys. A key is shown once when created; only its SHA-256 hash is stored. Lookup is
 * by hash, and the stored hash is compared with the presented one in constant time.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { and, eq, isNull, sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { apiKeys } from "../schema/index.ts";

export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type ApiKeyOwner = { actorId: string; role: string; permissions: string[] };

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

export function generateApiKey(): string {
  return `ddwf_${randomBytes(32).toString("base64url")}`;
}

/** Creates a key for an actor and returns it in clear, the only time it exists in clear. */
export async function createApiKey(db: Database, owner: ApiKeyOwner): Promise<{ id: string; key: string }> {
  const key = generateApiKey();
  const stored = await insertApiKeyWithPlaintext(db, { ...owner, key });
  return { id: stored.id, key };
}

/** Stores a key chosen elsewhere (the configured bootstrap key); storing it again is a no-op. */
export async function insertApiKeyWithPlaintext(db: Database, input: ApiKeyOwner & { key: string }): Promise<{ id: string; created: boolean }> {
  const keyHash = hashApiKey(input.key);
  const inserted = await db
    .insert(apiKeys)
    .values({
      id: `key_${randomUUID()}`,
      keyPrefix: input.key.slice(0, 8),
      keyHash,
      actorId: input.actorId,
      role: input.role,
      permissions: input.permissions,
    })
    .onConflictDoNothing({ target: apiKeys.keyHash })
    .returning({ id: apiKeys.id });
  if (inserted[0]) return { id: inserted[0].id, created: true };
  const [existing] = await db.select({ id: apiKeys.id }).from(apiKeys).where(eq(apiKeys.keyHash, keyHash)).limit(1);
  return { id: existing!.id, created: false };
}

/** The active key matching `key`, or undefined. */
export async function findApiKeyByPlaintext(db: Database, key: string): Promise<ApiKeyRow | undefined> {
  const presented = Buffer.from(hashApiKey(key), "hex");
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, presented.toString("hex")), isNull(apiKeys.revokedAt)))
    .limit(1);
  if (!row) return undefined;
  const stored = Buffer.from(row.keyHash, "hex");
  return stored.length === presented.length && timingSafeEqual(stored, presented) ? row : undefined;
}

export async function touchApiKey(db: Database, id: string, at = new Date()): Promise<void> {
  await db.update(apiKeys).set({ lastUsedAt: at }).where(eq(apiKeys.id, id));
}

export async function revokeApiKey(db: Database, id: string, at = new Date()): Promise<boolean> {
  const updated = await db
    .update(apiKeys)
    .set({ revokedAt: at })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  return updated.length > 0;
}

export async function countActiveApiKeys(db: Database): Promise<number> {
  const [row] = await db.select({ count: sql<number>`count(*)::int` }).from(apiKeys).where(isNull(apiKeys.revokedAt));
  return row?.count ?? 0;
}
