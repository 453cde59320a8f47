/**
 * Starts the embedded database: PGlite on a data folder (or in memory) behind the wire server.
 * One process owns a data folder at a time; a lock file with its PID says which.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PgliteWireServer, type WireServerStats } from "./wire-server.ts";

export type StartEmbeddedPostgresParameters = {
  /** A folder path, or `memory://` for a database that lives only as long as the process. */
  dataDir: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
};

export type EmbeddedPostgres = {
  url: string;
  port: number;
  dataDir: string;
  stats(): WireServerStats;
  stop(): Promise<void>;
};

export class EmbeddedDatabaseLockedError extends Error {
  readonly code = "EMBEDDED_DATABASE_LOCKED";
  constructor(dataDir: string, pid: number) {
    super(
      `The embedded database at ${dataDir} is open in process ${pid}. ` +
        "Share it by pointing DATABASE_URL at that process's database URL, or stop that process.",
    );
  }
}

export async function startEmbeddedPostgres(
  parameters: StartEmbeddedPostgresParameters,
): Promise<EmbeddedPostgres> {
  const host = parameters.host ?? "127.0.0.1";
  const inMemory = parameters.dataDir === "memory://";
  const dataDir = inMemory ? "memory://" : resolve(parameters.dataDir);
  const lockFile = inMemory ? null : `${dataDir}.lock`;
  if (lockFile) {
    await mkdir(dirname(dataDir), { recursive: true });
    await acquireLock(lockFile, dataDir);
  }
  let db: PGlite | undefined;
  try {
    db = await PGlite.create(inMemory ? undefined : dataDir);
    const server = new PgliteWireServer(db);
    const port = await server.listen(parameters.port ?? 0, host);
    const pglite = db;
    return {
      url: `postgres://postgres@${host}:${port}/postgres`,
      port,
      dataDir,
      stats: () => server.stats(),
      stop: async () => {
        await server.close();
        await pglite.close();
        if (lockFile) await rm(lockFile, { force: true });
      },
    };
  } catch (error) {
    await db?.close().catch(() => {});
    if (lockFile) await rm(lockFile, { force: true });
    throw error;
  }
}

async function acquireLock(lockFile: string, dataDir: string): Promise<void> {
  const existing = await readFile(lockFile, "utf8").catch(() => null);
  if (existing !== null) {
    const pid = Number.parseInt(existing, 10);
    if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid)) {
      throw new EmbeddedDatabaseLockedError(dataDir, pid);
    }
  }
  await writeFile(lockFile, String(process.pid));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
