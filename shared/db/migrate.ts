/**
 * Applies the committed migrations in `shared/db/migrations`. On a real server an advisory lock
 * serializes processes that start together; the embedded database is migrated once by its owner
 * before anyone else connects.
 */
import { fileURLToPath } from "node:url";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import { drizzle } from "drizzle-orm/postgres-js";
import type postgres from "postgres";

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("./migrations", import.meta.url));

/** An arbitrary constant shared by every ddwf process: "ddwf" in ASCII. */
const MIGRATION_LOCK_ID = 0x64647766;

export async function migrateDatabase(sql: postgres.Sql): Promise<void> {
  const reserved = await sql.reserve();
  try {
    await reserved`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    try {
      await migrate(drizzle(reserved), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await reserved`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
    }
  } finally {
    reserved.release();
  }
}
