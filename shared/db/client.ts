/**
 * One way to reach the database for every process: postgres.js, either to the server in
 * DATABASE_URL or to the embedded PGlite wire server this process starts itself.
 */
import postgres from "postgres";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import * as schema from "./schema/index.ts";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./embedded/start-embedded-postgres.ts";

export type Database = PostgresJsDatabase<typeof schema>;

export type DatabaseHandle = {
  db: Database;
  sql: postgres.Sql;
  /** `embedded` when this process serves PGlite itself, `server` for a PostgreSQL URL. */
  kind: "embedded" | "server";
  /** The URL other processes can use to share this database (the embedded one included). */
  url: string;
  embedded: EmbeddedPostgres | null;
  close(): Promise<void>;
};

export type ConnectDatabaseParameters = {
  url: string;
  poolSize?: number;
  /**
   * The embedded server is one backend session shared by every client: named prepared
   * statements would pile up in it, so the embedded mode uses unnamed ones.
   */
  embedded?: boolean;
};

export function connectDatabase(parameters: ConnectDatabaseParameters): Omit<DatabaseHandle, "kind" | "embedded"> {
  const sql = postgres(parameters.url, {
    max: parameters.poolSize ?? 10,
    prepare: parameters.embedded !== true,
    onnotice: () => {},
    connect_timeout: 10,
    connection: { application_name: "ddwf" },
  });
  const db = drizzle(sql, { schema, casing: "snake_case" });
  return { db, sql, url: parameters.url, close: () => sql.end({ timeout: 5 }) };
}

export type OpenDatabaseParameters = {
  databaseUrl?: string | undefined;
  pgliteDataDir: string;
  poolSize?: number;
};

/** Connects to DATABASE_URL, or starts the embedded database when none is configured. */
export async function openDatabase(parameters: OpenDatabaseParameters): Promise<DatabaseHandle> {
  if (parameters.databaseUrl) {
    const handle = connectDatabase({ url: parameters.databaseUrl, poolSize: parameters.poolSize, embedded: isEmbeddedUrl(parameters.databaseUrl) });
    return { ...handle, kind: "server", embedded: null };
  }
  const embedded = await startEmbeddedPostgres({ dataDir: parameters.pgliteDataDir });
  const handle = connectDatabase({ url: embedded.url, poolSize: parameters.poolSize, embedded: true });
  return {
    ...handle,
    kind: "embedded",
    embedded,
    close: async () => {
      await handle.close();
      await embedded.stop();
    },
  };
}

/**
 * `npm start` hands its embedded database to the worker and the DAPI with this marker in the URL,
 * so they connect in the embedded-safe mode.
 */
export const EMBEDDED_URL_MARKER = "application_name=ddwf-embedded";

export function isEmbeddedUrl(url: string): boolean {
  return url.includes(EMBEDDED_URL_MARKER);
}
