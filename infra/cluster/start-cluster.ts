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
 *
 * Only the cluster may call the replicas: one request-identity key pair, made once in
 * DATA_DIR/cluster/restate-identity, signs every node's requests, and the replicas accept only its
 * public key (added to RESTATE_IDENTITY_KEYS).
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { privateKeyToAddress } from "viem/accounts";
import { readNodeHealth } from "../../shared/restate/node-health.ts";
import { ensureRequestIdentityKeys } from "../../shared/restate/request-identity.ts";
import { loadConfigOrExit, ownChildren, prepareLocalDatabase, say, startLocalChain, stopAllWhenItExits } from "../local/launcher-parts.ts";
import { startManagedProcess } from "../local/managed-process.ts";
import { waitFor } from "../local/wait-for.ts";
import { defaultClusterPorts, startCluster, type RunningCluster } from "./cluster-stack.ts";
import { findHaproxy, HAPROXY_MISSING } from "./haproxy.ts";

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  if (!findHaproxy()) {
    process.stderr.write(`ddwf: ${HAPROXY_MISSING}\n`);
    process.exit(1);
  }
  const dataDir = resolve(config.DATA_DIR);
  const logDir = join(dataDir, "logs", "cluster");
  await mkdir(logDir, { recursive: true });
  const children = ownChildren("the cluster");
  const shutdown = children.shutdown;

  try {
    const chain = await startLocalChain(config, { dataDir, logDir, children });
    const devSigners = chain.devSigners;
    const { databaseUrl, printedKey } = await prepareLocalDatabase(config, children);
    const workerEnv: Record<string, string> = { CHAIN_RPC_URL: chain.rpcUrl, DATABASE_URL: databaseUrl };
    if (devSigners.length > 0) workerEnv.SIGNER_DEV_KEYS = devSigners.join(",");
    if (config.RESTATE_IDENTITY_KEYS.length > 0) workerEnv.RESTATE_IDENTITY_KEYS = config.RESTATE_IDENTITY_KEYS.join(",");
    // One key for all three nodes: any node's admin API discovers the deployment, any node's partitions invoke it.
    const identity = await ensureRequestIdentityKeys(join(dataDir, "cluster", "restate-identity"));

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
      requestIdentity: identity,
      onProgress: (line) => say(`ddwf: ${line}`),
    });
    children.add({ name: "cluster", stop: cluster.stop });
    for (const node of cluster.nodes) reportExit(node.plan.name, () => node.current()?.exited, children.isStopping);
    for (const replica of cluster.replicas) reportExit(replica.name, () => replica.current()?.exited, children.isStopping);

    const dapiEnv: Record<string, string> = {
      ...workerEnv,
      RESTATE_ADMIN_URL: cluster.urls.admin,
      RESTATE_INGRESS_URL: cluster.urls.ingress,
      RESTATE_NODE_URLS: cluster.urls.nodes.join(","),
      ...(printedKey ? { DAPI_BOOTSTRAP_API_KEY: printedKey } : {}),
    };
    const dapi = startManagedProcess({ name: "dapi", command: process.execPath, args: [resolve("admin-api/main.ts")], env: dapiEnv, output: join(logDir, "dapi.log") });
    children.add({ name: "dapi", stop: () => dapi.stop({ graceMs: 10_000 }) });
    const dapiUrl = `http://${config.HTTP_HOST}:${config.DAPI_PORT}`;
    await waitFor("the DAPI to be ready", async () => (await fetch(`${dapiUrl}/health/ready`, { signal: AbortSignal.timeout(1_000) })).status === 200, {
      timeoutMs: 120_000,
      abort: dapi.exited.then(() => `the DAPI exited; see ${join(logDir, "dapi.log")}`),
    });
    stopAllWhenItExits(dapi, children);

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
      say(`  Replica ${replica.name.replace("worker-", "")}         endpoint ${replica.endpointUrl}  ops ${replica.opsUrl}/health/ready  ${replica.opsUrl}/metrics`);
    }
    say(`  Balancer stats    ${cluster.urls.stats}`);
    say(`  Chain RPC         ${chain.rpcUrl} (chain ${config.CHAIN_ID})`);
    say(`  Database          ${config.DATABASE_URL ? "DATABASE_URL" : databaseUrl}`);
    say(`  DAPI              ${dapiUrl}   (doctor shows the nodes)`);
    say(`  Operator console  ${dapiUrl}/console`);
    say(`  Logs              ${logDir}`);
    if (devSigners.length > 0) {
      say(`  Dev signers       ${devSigners.map((key) => privateKeyToAddress(key as `0x${string}`)).join(", ")} (anvil accounts)`);
    }
    say(`  Request identity  every node signs with ${identity.privateKeyFile}; the replicas accept only ${identity.publicKey}`);
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
