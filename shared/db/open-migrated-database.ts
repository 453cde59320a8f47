/** The database of a ddwf process as its configuration says, opened and migrated. */
import type { Config } from "../config.ts";
import { EMBEDDED_URL_MARKER, openDatabase, type DatabaseHandle } from "./client.ts";
import { migrateDatabase } from "./migrate.ts";

export async function openMigratedDatabase(config: Pick<Config, "DATABASE_URL" | "PGLITE_DATA_DIR" | "DATABASE_POOL_SIZE">): Promise<DatabaseHandle> {
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, pgliteDataDir: config.PGLITE_DATA_DIR, poolSize: config.DATABASE_POOL_SIZE });
  try {
    await migrateDatabase(database.sql);
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

/**
 * Where a process's database is, for its log and its `/info` route: the kind, and for a database the
 * process serves itself, the URL other processes can use (with the embedded-mode marker).
 */
export function describeDatabase(database: Pick<DatabaseHandle, "kind" | "url">): { kind: "embedded" | "server"; url?: string } {
  return database.kind === "embedded" ? { kind: "embedded", url: `${database.url}?${EMBEDDED_URL_MARKER}` } : { kind: "server" };
}
