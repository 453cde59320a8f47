/** Operator API keys: only a SHA-256 hash of each key is kept, never the key. */
import { jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

export const apiKeys = pgTable(
  "api_keys",
  {
    id: text().primaryKey(),
    /** The first characters of the key, to recognise it in listings. */
    keyPrefix: text().notNull(),
    /** Hex SHA-256 of the whole key. */
    keyHash: text().notNull(),
    actorId: text().notNull(),
    role: text().notNull(),
    permissions: jsonb().$type<string[]>().notNull(),
    createdAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
    lastUsedAt: timestamp({ withTimezone: true, mode: "date" }),
    revokedAt: timestamp({ withTimezone: true, mode: "date" }),
  },
  (table) => [uniqueIndex("api_keys_key_hash_unique").on(table.keyHash)],
);
