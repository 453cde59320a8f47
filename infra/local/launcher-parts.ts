/**
 * What `npm start` and `npm run cluster` share: reading the configuration once (exit 78 on a bad
 * value), owning children and stopping them in reverse order on Ctrl-C, the local chain (anvil with
 * its state in DATA_DIR, unless CHAIN_RPC_URL is set) and the database (embedded PGlite unless
 * DATABASE_URL is set), migrated once before any process races to do it, with a one-time operator
 * key when the database has none.
 */
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Hex } from "viem";
import { ConfigError, loadConfig, type Config } from "../../shared/config.ts";
import { connectDatabase, EMBEDDED_URL_MARKER } from "../../shared/db/client.ts";
import { startEmbeddedPostgres } from "../../shared/db/embedded/start-embedded-postgres.ts";
import { migrateDatabase } from "../../shared/db/migrate.ts";
import { countActiveApiKeys } from "../../shared/db/repositories/api-keys.ts";
import { EXIT_CONFIG_INVALID } from "../../shared/process/run-process.ts";
import { anvilDevelopmentKeys, startAnvil } from "./anvil.ts";
import type { ManagedProcess } from "./managed-process.ts";

export type Stoppable = { name: string; stop(): Promise<void> };

export const say = (line: string) => process.stdout.write(`${line}\n`);

/** The configuration, or the process ends with one message naming every bad variable. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    process.stderr.write(`ddwf: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof ConfigError ? EXIT_CONFIG_INVALID : 1);
  }
}

export type OwnedChildren = {
  add(part: Stoppable): void;
  /** Stops every part, newest first, then exits; a second call while stopping does nothing. */
  shutdown(reason: string, exitCode: number): Promise<void>;
  isStopping(): boolean;
};

/** Children the launcher owns; SIGINT and SIGTERM stop them all. */
export function ownChildren(what?: string): OwnedChildren {
  const owned: Stoppable[] = [];
  let stopping = false;
  const shutdown = async (reason: string, exitCode: number) => {
    if (stopping) return;
    stopping = true;
    say(`ddwf: stopping${what ? ` ${what}` : ""} (${reason})`);
    for (const part of [...owned].reverse()) {
      await part.stop().catch((error: unknown) => say(`ddwf: stopping ${part.name} failed: ${String(error)}`));
    }
    say("ddwf: stopped");
    process.exit(exitCode);
  };
  process.on("SIGINT", () => void shutdown("SIGINT", 0));
  process.on("SIGTERM", () => void shutdown("SIGTERM", 0));
  return { add: (part) => owned.push(part), shutdown, isStopping: () => stopping };
}

/** A child whose end stops everything (anvil, the DAPI, the single worker of `npm start`). */
export function stopAllWhenItExits(child: ManagedProcess, children: OwnedChildren): void {
  void child.exited.then(({ code, signal }) => children.shutdown(`${child.name} exited unexpectedly (${code ?? signal})`, 1));
}

/**
 * anvil on CHAIN_RPC_URL's port with its state in DATA_DIR/anvil, unless CHAIN_RPC_URL is set. On its
 * own chain the workers sign with anvil's funded accounts (never done for a configured chain).
 */
export async function startLocalChain(
  config: Config,
  parameters: { dataDir: string; logDir: string; children: OwnedChildren },
): Promise<{ rpcUrl: string; devSigners: Hex[] }> {
  if (config.explicit.chainRpc) return { rpcUrl: config.CHAIN_RPC_URL, devSigners: [] };
  say(`ddwf: starting anvil (chain ${config.CHAIN_ID}, state in ${join(parameters.dataDir, "anvil")})`);
  await mkdir(join(parameters.dataDir, "anvil"), { recursive: true });
  const anvil = await startAnvil({
    port: Number(new URL(config.CHAIN_RPC_URL).port),
    chainId: config.CHAIN_ID,
    stateFile: join(parameters.dataDir, "anvil", "state.json"),
    logFile: join(parameters.logDir, "anvil.log"),
  });
  parameters.children.add({ name: "anvil", stop: anvil.stop });
  stopAllWhenItExits(anvil.process, parameters.children);
  return { rpcUrl: anvil.rpcUrl, devSigners: config.SIGNER_DEV_KEYS.length === 0 ? anvilDevelopmentKeys(3) : [] };
}

/**
 * The database URL every child gets (DATABASE_URL, or the embedded database served here), migrated,
 * and a new operator key to print when the database has none and DAPI_BOOTSTRAP_API_KEY is unset.
 */
export async function prepareLocalDatabase(config: Config, children: OwnedChildren): Promise<{ databaseUrl: string; printedKey: string | undefined }> {
  let databaseUrl = config.DATABASE_URL;
  if (!databaseUrl) {
    say(`ddwf: serving the embedded database (PGlite in ${config.PGLITE_DATA_DIR})`);
    const embedded = await startEmbeddedPostgres({ dataDir: config.PGLITE_DATA_DIR });
    children.add({ name: "embedded database", stop: embedded.stop });
    databaseUrl = `${embedded.url}?${EMBEDDED_URL_MARKER}`;
  }
  const migrator = connectDatabase({ url: databaseUrl, poolSize: 2, embedded: databaseUrl.includes(EMBEDDED_URL_MARKER) });
  try {
    await migrateDatabase(migrator.sql);
    const printedKey =
      !config.DAPI_BOOTSTRAP_API_KEY && (await countActiveApiKeys(migrator.db)) === 0 ? `ddwf_dev_${randomBytes(24).toString("base64url")}` : undefined;
    return { databaseUrl, printedKey };
  } finally {
    await migrator.close();
  }
}
