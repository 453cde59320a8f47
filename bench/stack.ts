/**
 * The benchmark's own stack: restate-server and anvil from node_modules on free ports, an embedded
 * database, and the worker as a separate process (as in production), stopped by PID at the end.
 */
import { resolve } from "node:path";
import { binariesStackProvider } from "../test/helpers/stack.ts";
import { createChainTools, type Sender } from "../test/helpers/chain.ts";
import { createWorkerProcess, workerEnvironment } from "../test/helpers/worker-process.ts";
import { connectDatabase, EMBEDDED_URL_MARKER } from "../shared/db/client.ts";
import { startEmbeddedPostgres } from "../shared/db/embedded/start-embedded-postgres.ts";
import { migrateDatabase } from "../shared/db/migrate.ts";
import { createTransactionClient } from "../services/workflows/transaction-execution/client.ts";
import { postgresTarget } from "../test/storage/database-targets.ts";

/** The worker's settings in every bench stack; BENCH_WORKER_NODE_OPTIONS tries V8 flags on the worker alone. */
function benchWorkerSettings(senders: Sender[]): Record<string, string> {
  return {
    SIGNER_DEV_KEYS: senders.map((s) => s.privateKey).join(","),
    TX_RECEIPT_POLL_INTERVAL_MS: "200",
    CHAIN_MONITOR_POLL_MS: "100",
    LOG_LEVEL: "warn",
    DATABASE_POOL_SIZE: "10",
    ...(process.env.BENCH_WORKER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_WORKER_NODE_OPTIONS } : {}),
  };
}

export async function startBenchStack(parameters: { senders: number }) {
  // The project's restate.toml (partitions, RocksDB memory, retry policy), as `npm start` runs it.
  const started = await binariesStackProvider.start({ restateConfigFile: resolve("restate.toml") });
  const database = await startEmbeddedPostgres({ dataDir: "memory://" });
  const databaseUrl = `${database.url}?${EMBEDDED_URL_MARKER}`;
  const handle = connectDatabase({ url: databaseUrl, embedded: true, poolSize: 8 });
  await migrateDatabase(handle.sql);
  const tools = createChainTools(started.stack);
  const senders: Sender[] = [];
  for (let i = 0; i < parameters.senders; i++) senders.push(await tools.newSender("1000"));
  const env = await workerEnvironment(started.stack, databaseUrl, benchWorkerSettings(senders));
  const worker = createWorkerProcess(started.stack, env, "bench-worker");
  await worker.start();
  return {
    stack: started.stack,
    tools,
    senders,
    worker,
    workerPids: () => [worker.current().pid],
    db: handle.db,
    client: createTransactionClient({ db: handle.db, ingressUrl: started.stack.restateIngressUrl }),
    stop: async () => {
      await worker.stop();
      await handle.close();
      await database.stop();
      await started.stop();
    },
  };
}

export type BenchStack = Awaited<ReturnType<typeof startBenchStack>>;

/**
 * The same stack with the worker on PostgreSQL: the embedded worker stops for good, a worker on a
 * fresh database of `serverUrl` starts (and registers, so Restate now calls it), with a client on
 * that database. `stop` stops it and drops the database. Run it last.
 */
export async function switchToPostgres(bench: BenchStack, serverUrl: string) {
  const target = await postgresTarget(serverUrl).open({ poolSize: 8 });
  await bench.worker.stop();
  const env = await workerEnvironment(bench.stack, target.url, benchWorkerSettings(bench.senders));
  const worker = createWorkerProcess(bench.stack, env, "bench-worker-postgres");
  await worker.start();
  return {
    stack: bench.stack,
    senders: bench.senders,
    workerPids: () => [worker.current().pid],
    client: createTransactionClient({ db: target.handle.db, ingressUrl: bench.stack.restateIngressUrl }),
    stop: async () => {
      await worker.stop();
      await target.close();
    },
  };
}
