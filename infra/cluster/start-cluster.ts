/**
 * `npm run cluster`: ddwf on Restate's own distributed mode, on one machine, from `npm install`.
 *
 * Starts, as children it owns and stops by PID on Ctrl-C: three restate-server nodes (one cluster,
 * replicated metadata on all three, log and partition replication 2; n1 provisions it), HAProxy in
 * front of their ingress and admin APIs on the URLs `npm start` uses and in front of WORKER_REPLICAS
 * worker processes (the one deployment Restate registers), anvil and the embedded database as
 * `npm start` does (or the configured ones), and the DAPI pointed at the cluster.
 *
 * Restate's data lives in DATA_DIR/cluster (not DATA_DIR/restate, which is the single node's); the
 * chain and the database are the same as `npm start`'s. A node or replica that dies is reported and
 * the rest keeps running: surviving that is the point of the cluster.
 */
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { privateKeyToAddress } from "viem/accounts";
import { ConfigError, loadConfig, type Config } from "../../shared/config.ts";
import { connectDatabase, EMBEDDED_URL_MARKER } from "../../shared/db/client.ts";
import { startEmbeddedPostgres } from "../../shared/db/embedded/start-embedded-postgres.ts";
import { migrateDatabase } from "../../shared/db/migrate.ts";
import { countActiveApiKeys } from "../../shared/db/repositories/api-keys.ts";
import { EXIT_CONFIG_INVALID } from "../../shared/process/run-process.ts";
import { readNodeHealth } from "../../shared/restate/node-health.ts";
import { anvilDevelopmentKeys, startAnvil } from "../local/anvil.ts";
import { startManagedProcess } from "../local/managed-process.ts";
import { waitFor } from "../local/wait-for.ts";
import { defaultClusterPorts, startCluster, type RunningCluster } from "./cluster-stack.ts";
import { findHaproxy, HAPROXY_MISSING } from "./haproxy.ts";

type Stoppable = { name: string; stop(): Promise<void> };

const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    process.stderr.write(`ddwf: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof ConfigError ? EXIT_CONFIG_INVALID : 1);
  }
  if (!findHaproxy()) {
    process.stderr.write(`ddwf: ${HAPROXY_MISSING}\n`);
    process.exit(1);
  }
  const dataDir = resolve(config.DATA_DIR);
  const logDir = join(dataDir, "logs", "cluster");
  await mkdir(logDir, { recursive: true });
  const owned: Stoppable[] = [];
  let shuttingDown = false;
  const shutdown = async (reason: string, exitCode: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    say(`ddwf: stopping the cluster (${reason})`);
    for (const part of [...owned].reverse()) {
      await part.stop().catch((error: unknown) => say(`ddwf: stopping ${part.name} failed: ${String(error)}`));
    }
    say("ddwf: stopped");
    process.exit(exitCode);
  };
  process.on("SIGINT", () => void shutdown("SIGINT", 0));
  process.on("SIGTERM", () => void shutdown("SIGTERM", 0));

  try {
    const workerEnv: Record<string, string> = { CHAIN_RPC_URL: config.CHAIN_RPC_URL };
    let devSigners: string[] = [];
    if (!config.explicit.chainRpc) {
      say(`ddwf: starting anvil (chain ${config.CHAIN_ID}, state in ${join(dataDir, "anvil")})`);
      await mkdir(join(dataDir, "anvil"), { recursive: true });
      const anvil = await startAnvil({
        port: Number(new URL(config.CHAIN_RPC_URL).port),
        chainId: config.CHAIN_ID,
        stateFile: join(dataDir, "anvil", "state.json"),
        logFile: join(logDir, "anvil.log"),
      });
      owned.push({ name: "anvil", stop: anvil.stop });
      void anvil.process.exited.then(({ code, signal }) => shutdown(`anvil exited unexpectedly (${code ?? signal})`, 1));
      if (config.SIGNER_DEV_KEYS.length === 0) {
        devSigners = anvilDevelopmentKeys(3);
        workerEnv.SIGNER_DEV_KEYS = devSigners.join(",");
      }
    }

    let databaseUrl = config.DATABASE_URL;
    if (!databaseUrl) {
      say(`ddwf: serving the embedded database (PGlite in ${config.PGLITE_DATA_DIR})`);
      const embedded = await startEmbeddedPostgres({ dataDir: config.PGLITE_DATA_DIR });
      owned.push({ name: "embedded database", stop: embedded.stop });
      databaseUrl = `${embedded.url}?${EMBEDDED_URL_MARKER}`;
    }
    workerEnv.DATABASE_URL = databaseUrl;
    const migrator = connectDatabase({ url: databaseUrl, poolSize: 2, embedded: databaseUrl.includes(EMBEDDED_URL_MARKER) });
    await migrateDatabase(migrator.sql);
    let printedKey: string | undefined;
    if (!config.DAPI_BOOTSTRAP_API_KEY && (await countActiveApiKeys(migrator.db)) === 0) {
      printedKey = `ddwf_dev_${randomBytes(24).toString("base64url")}`;
    }
    await migrator.close();

    say(`ddwf: starting three restate-server nodes, HAProxy and ${config.WORKER_REPLICAS} worker replicas (data in ${join(dataDir, "cluster")})`);
    const ports = defaultClusterPorts({
      ingress: Number(new URL(config.RESTATE_INGRESS_URL).port || 80),
      admin: Number(new URL(config.RESTATE_ADMIN_URL).port || 80),
      worker: config.WORKER_PORT,
      ops: config.OPS_PORT,
      replicas: config.WORKER_REPLICAS,
    });
    const cluster: RunningCluster = await startCluster({
      ports,
      host: "127.0.0.1",
      dataDir: join(dataDir, "cluster"),
      logDir,
      workerEnv,
      onProgress: (line) => say(`ddwf: ${line}`),
    });
    owned.push({ name: "cluster", stop: cluster.stop });
    for (const node of cluster.nodes) reportExit(node.plan.name, () => node.current()?.exited, () => shuttingDown);
    for (const replica of cluster.replicas) reportExit(replica.name, () => replica.current()?.exited, () => shuttingDown);

    const dapiEnv: Record<string, string> = {
      ...workerEnv,
      RESTATE_ADMIN_URL: cluster.urls.admin,
      RESTATE_INGRESS_URL: cluster.urls.ingress,
      RESTATE_NODE_URLS: cluster.urls.nodes.join(","),
      ...(printedKey ? { DAPI_BOOTSTRAP_API_KEY: printedKey } : {}),
    };
    const dapi = startManagedProcess({ name: "dapi", command: process.execPath, args: [resolve("admin-api/main.ts")], env: dapiEnv, output: join(logDir, "dapi.log") });
    owned.push({ name: "dapi", stop: () => dapi.stop({ graceMs: 10_000 }) });
    const dapiUrl = `http://${config.HTTP_HOST}:${config.DAPI_PORT}`;
    await waitFor("the DAPI to be ready", async () => (await fetch(`${dapiUrl}/health/ready`, { signal: AbortSignal.timeout(1_000) })).status === 200, {
      timeoutMs: 120_000,
      abort: dapi.exited.then(() => `the DAPI exited; see ${join(logDir, "dapi.log")}`),
    });
    void dapi.exited.then(({ code, signal }) => shutdown(`the DAPI exited unexpectedly (${code ?? signal})`, 1));

    // A transaction can run once every node's schema holds the worker's services (it reaches each
    // node a moment after registration) and the balancer has the replicas in.
    await waitFor("every node to know the worker's services", async () => {
      const answers = await Promise.all(
        cluster.nodes.map((node) => fetch(`${node.plan.adminUrl}/services/TransactionExecutionWorkflow`, { signal: AbortSignal.timeout(1_000) })),
      );
      return answers.every((answer) => answer.ok);
    });

    say("");
    say(`  Restate ingress   ${cluster.urls.ingress}   (HAProxy over the three nodes)`);
    say(`  Restate admin     ${cluster.urls.admin}   (HAProxy over the three nodes)`);
    for (const node of cluster.nodes) {
      const health = await readNodeHealth(node.plan.nodeUrl).catch(() => undefined);
      say(
        `  Node ${node.plan.name}           ${health?.node_id ?? "?"} ${node.plan.nodeUrl}  ingress ${node.plan.ingressUrl}  admin ${node.plan.adminUrl}  ` +
          `roles ${(health?.roles ?? []).join(",")}  metadata ${health?.metadata_server_status ?? "?"}${node.plan.provisions ? "  (provisioned the cluster)" : ""}`,
      );
    }
    say(`  Worker deployment ${cluster.urls.worker}   (HAProxy over ${cluster.replicas.length} replicas, h2c)`);
    for (const replica of cluster.replicas) {
      say(`  Replica ${replica.name.replace("worker-", "")}         endpoint http://127.0.0.1:${replica.ports.endpoint}  ops ${replica.opsUrl}/health/ready  ${replica.opsUrl}/metrics`);
    }
    say(`  Balancer stats    ${cluster.urls.stats}`);
    say(`  Chain RPC         ${config.CHAIN_RPC_URL} (chain ${config.CHAIN_ID})`);
    say(`  Database          ${config.DATABASE_URL ? "DATABASE_URL" : databaseUrl}`);
    say(`  DAPI              ${dapiUrl}   (doctor shows the nodes)`);
    say(`  Logs              ${logDir}`);
    if (devSigners.length > 0) {
      say(`  Dev signers       ${devSigners.map((key) => privateKeyToAddress(key as `0x${string}`)).join(", ")} (anvil accounts)`);
    }
    if (printedKey) say(`  Operator API key  ${printedKey}   (shown once; stored hashed)`);
    say("");
    say("ddwf ready: a three-node Restate cluster with worker replicas (Ctrl-C stops everything)");
  } catch (error) {
    say(`ddwf: cluster start-up failed: ${error instanceof Error ? error.message : String(error)}`);
    await shutdown("start-up failed", 1);
  }
}

/** A node or replica that dies is reported, not fatal: the cluster is built to go on without it. */
function reportExit(name: string, exited: () => Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined, stopping: () => boolean): void {
  void exited()?.then(({ code, signal }) => {
    if (!stopping()) say(`ddwf: ${name} exited (${code ?? signal}); the cluster goes on without it (see its log)`);
  });
}

await main();
