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

/**
 * Holds the lock on one reserved connection while the pool applies the migrations, so the pool
 * must allow at least two connections.
 */
export async function migrateDatabase(sql: postgres.Sql): Promise<void> {
  const lock = await sql.reserve();
  try {
    await lock`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    try {
      await migrate(drizzle(sql), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await lock`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
    }
  } finally {
    lock.release();
  }
}
