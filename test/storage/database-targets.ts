/**
 * The databases the storage suite runs on: always the embedded PGlite (over the wire protocol, as
 * the processes use it) and, when TEST_DATABASE_URL is set, a fresh database on that PostgreSQL
 * server, created for the run and dropped after it.
 */
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { connectDatabase, type DatabaseHandle } from "../../shared/db/client.ts";
import { startEmbeddedPostgres } from "../../shared/db/embedded/start-embedded-postgres.ts";
import { migrateDatabase } from "../../shared/db/migrate.ts";

export type DatabaseTarget = {
  name: string;
  open(): Promise<{ handle: Omit<DatabaseHandle, "kind" | "embedded">; close(): Promise<void> }>;
};

export const pgliteTarget: DatabaseTarget = {
  name: "PGlite (embedded, wire protocol)",
  async open() {
    const server = await startEmbeddedPostgres({ dataDir: "memory://" });
    const handle = connectDatabase({ url: server.url, embedded: true, poolSize: 4 });
    await migrateDatabase(handle.sql);
    return {
      handle,
      close: async () => {
        await handle.close();
        await server.stop();
      },
    };
  },
};

export function postgresTarget(serverUrl: string): DatabaseTarget {
  return {
    name: "PostgreSQL (TEST_DATABASE_URL)",
    async open() {
      const name = `ddwf_test_${randomBytes(6).toString("hex")}`;
      const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
      await admin.unsafe(`create database ${name}`);
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      const handle = connectDatabase({ url: url.toString(), poolSize: 4 });
      await migrateDatabase(handle.sql);
      return {
        handle,
        close: async () => {
          await handle.close();
          await admin.unsafe(`drop database if exists ${name} with (force)`);
          await admin.end();
        },
      };
    },
  };
}

export function databaseTargets(env: Record<string, string | undefined>): DatabaseTarget[] {
  return env.TEST_DATABASE_URL ? [pgliteTarget, postgresTarget(env.TEST_DATABASE_URL)] : [pgliteTarget];
}
