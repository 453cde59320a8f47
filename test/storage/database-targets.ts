/**
 * The databases the storage suite runs on: always the embedded PGlite (over the wire protocol, as
 * the processes use it) and, when TEST_DATABASE_URL is set, a fresh database on that PostgreSQL
 * server, created for the run and dropped after it.
 */
import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { connectDatabase, type DatabaseHandle } from "../../shared/db/client.ts";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../shared/db/embedded/start-embedded-postgres.ts";
import { migrateDatabase } from "../../shared/db/migrate.ts";

export type OpenedTarget = {
  /** A migrated pool on the target's database. */
  handle: Omit<DatabaseHandle, "kind" | "embedded">;
  /** Where another pool (another "process") reaches the same database. */
  url: string;
  /** True for the embedded wire server: pools must then connect in its mode. */
  embedded: boolean;
  /** The embedded server, for its statistics; null on PostgreSQL. */
  server: EmbeddedPostgres | null;
  /** Another pool on the same database, closed with the target. */
  connect(poolSize: number): Omit<DatabaseHandle, "kind" | "embedded">;
  close(): Promise<void>;
};

export type DatabaseTarget = {
  name: string;
  open(options?: { poolSize?: number }): Promise<OpenedTarget>;
};

/** Pools opened with `connect`, ended before the database goes away. */
function poolTracker(url: string, embedded: boolean) {
  const pools: Omit<DatabaseHandle, "kind" | "embedded">[] = [];
  return {
    connect(poolSize: number) {
      const handle = connectDatabase({ url, embedded, poolSize });
      pools.push(handle);
      return handle;
    },
    async closeAll() {
      await Promise.all(pools.map((pool) => pool.close()));
    },
  };
}

export const pgliteTarget: DatabaseTarget = {
  name: "PGlite (embedded, wire protocol)",
  async open(options = {}) {
    const server = await startEmbeddedPostgres({ dataDir: "memory://" });
    const pools = poolTracker(server.url, true);
    try {
      const handle = pools.connect(options.poolSize ?? 4);
      await migrateDatabase(handle.sql);
      return {
        handle,
        url: server.url,
        embedded: true,
        server,
        connect: pools.connect,
        close: async () => {
          await pools.closeAll();
          await server.stop();
        },
      };
    } catch (error) {
      await pools.closeAll();
      await server.stop();
      throw error;
    }
  },
};

export function postgresTarget(serverUrl: string): DatabaseTarget {
  return {
    name: "PostgreSQL (TEST_DATABASE_URL)",
    async open(options = {}) {
      const name = `ddwf_test_${randomBytes(6).toString("hex")}`;
      const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
      const dropDatabase = async () => {
        // WITH (FORCE) terminates any connection left behind (PostgreSQL 13+).
        await admin.unsafe(`drop database if exists ${name} with (force)`);
        await admin.end();
      };
      await admin.unsafe(`create database ${name}`);
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      const pools = poolTracker(url.toString(), false);
      try {
        const handle = pools.connect(options.poolSize ?? 4);
        await migrateDatabase(handle.sql);
        return {
          handle,
          url: url.toString(),
          embedded: false,
          server: null,
          connect: pools.connect,
          close: async () => {
            await pools.closeAll();
            await dropDatabase();
          },
        };
      } catch (error) {
        await pools.closeAll();
        await dropDatabase();
        throw error;
      }
    },
  };
}

export function databaseTargets(env: Record<string, string | undefined>): DatabaseTarget[] {
  return env.TEST_DATABASE_URL ? [pgliteTarget, postgresTarget(env.TEST_DATABASE_URL)] : [pgliteTarget];
}
