/**
 * The Restate side of a local cluster, shared by `npm run cluster`, the node-loss drills and the
 * cluster benchmark: three restate-server nodes, HAProxy in front of their ingress and admin APIs
 * and in front of the worker replicas, and the replicas themselves. The chain and the database
 * come from the caller (their URLs are in `workerEnv`), and so does the request-identity key pair:
 * every node signs with its private key, every replica accepts only its public key (and whatever
 * RESTATE_IDENTITY_KEYS the caller already gives), so nothing but this cluster can call the replicas.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { freePort } from "../local/free-port.ts";
import { waitFor } from "../local/wait-for.ts";
import { readServerStats, startHaproxy, type RunningHaproxy } from "./haproxy.ts";
import { DEFAULT_NODE_PORTS, planRestateNodes, startRestateCluster, type RestateClusterNode, type RestateNodePorts } from "./restate-nodes.ts";
import { createWorkerReplica, type WorkerReplica, type WorkerReplicaPorts } from "./worker-replicas.ts";

export type ClusterPorts = {
  /** Balancer ports: ingress and admin across the nodes, the worker deployment across the replicas. */
  ingress: number;
  admin: number;
  worker: number;
  stats: number;
  nodes: RestateNodePorts[];
  replicas: WorkerReplicaPorts[];
};

/**
 * `npm run cluster`'s ports: the balancer on the ports of the `npm start` URLs (ingress 8080, admin
 * 9070, worker WORKER_PORT), nodes on 15122-15124 (node), 19070-19072 (admin) and 18080-18082 (ingress), replica i's endpoint on
 * WORKER_PORT + i and its ops server on OPS_PORT + i - 1, statistics on 8404.
 */
export function defaultClusterPorts(parameters: { ingress: number; admin: number; worker: number; ops: number; replicas: number }): ClusterPorts {
  return {
    ingress: parameters.ingress,
    admin: parameters.admin,
    worker: parameters.worker,
    stats: 8404,
    nodes: DEFAULT_NODE_PORTS,
    replicas: Array.from({ length: parameters.replicas }, (_, i) => ({ endpoint: parameters.worker + i + 1, ops: parameters.ops + i })),
  };
}

/** Free loopback ports for everything (tests and the benchmark). */
export async function freeClusterPorts(replicas: number): Promise<ClusterPorts> {
  // A released port can come back from the kernel on a later call: keep every port distinct.
  const taken = new Set<number>();
  const take = async (): Promise<number> => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  const [ingress, admin, worker, stats] = [await take(), await take(), await take(), await take()];
  const nodes: RestateNodePorts[] = [];
  for (let i = 0; i < 3; i++) nodes.push({ node: await take(), admin: await take(), ingress: await take() });
  const replicaPorts: WorkerReplicaPorts[] = [];
  for (let i = 0; i < replicas; i++) replicaPorts.push({ endpoint: await take(), ops: await take() });
  return { ingress, admin, worker, stats, nodes, replicas: replicaPorts };
}

export type ClusterUrls = { ingress: string; admin: string; worker: string; stats: string; nodes: string[] };

export type RunningCluster = {
  urls: ClusterUrls;
  nodes: RestateClusterNode[];
  replicas: WorkerReplica[];
  haproxy: RunningHaproxy;
  /** Requests HAProxy sent to each replica so far (invocation attempts and discovery), by replica name. */
  requestsPerReplica(): Promise<Record<string, number>>;
  stop(): Promise<void>;
};

/** A request-identity key pair (`ensureRequestIdentityKeys`): the PEM the nodes sign with, the key the replicas trust. */
export type ClusterRequestIdentity = { privateKeyFile: string; publicKey: string };

export async function startCluster(parameters: {
  ports: ClusterPorts;
  dataDir: string;
  logDir: string;
  /** Variables every replica gets on top of the cluster's own (database, chain, signers, tuning). */
  workerEnv: Record<string, string>;
  requestIdentity: ClusterRequestIdentity;
  host?: string;
  restateEnv?: Record<string, string>;
  /** Called as each part comes up, for a launcher's progress lines. */
  onProgress?: (line: string) => void;
}): Promise<RunningCluster> {
  const host = parameters.host ?? "127.0.0.1";
  const { ports } = parameters;
  const say = parameters.onProgress ?? (() => undefined);
  await mkdir(parameters.logDir, { recursive: true });
  await mkdir(parameters.dataDir, { recursive: true });
  const urls: ClusterUrls = {
    ingress: `http://${host}:${ports.ingress}`,
    admin: `http://${host}:${ports.admin}`,
    worker: `http://${host}:${ports.worker}`,
    stats: `http://${host}:${ports.stats}/stats`,
    nodes: ports.nodes.map((node) => `http://${host}:${node.node}`),
  };
  const plans = planRestateNodes({
    ports: ports.nodes,
    dataDir: join(parameters.dataDir, "restate"),
    logDir: parameters.logDir,
    requestIdentityKeyFile: parameters.requestIdentity.privateKeyFile,
    host,
    extraEnv: parameters.restateEnv,
  });
  // Appended to the keys the caller's RESTATE_IDENTITY_KEYS already trusts (a key being rotated in).
  const identityKeys = [parameters.workerEnv.RESTATE_IDENTITY_KEYS, parameters.requestIdentity.publicKey].filter((keys) => keys !== undefined && keys !== "");
  const replicas = ports.replicas.map((replicaPorts, i) =>
    createWorkerReplica({
      name: `worker-${i + 1}`,
      host,
      ports: replicaPorts,
      logDir: parameters.logDir,
      env: {
        ...parameters.workerEnv,
        RESTATE_INGRESS_URL: urls.ingress,
        RESTATE_ADMIN_URL: urls.admin,
        WORKER_ADVERTISED_URL: urls.worker,
        RESTATE_IDENTITY_KEYS: identityKeys.join(","),
      },
    }),
  );

  const stoppers: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const stopPart of stoppers.reverse()) await stopPart().catch(() => undefined);
  };
  try {
    const haproxy = await startHaproxy({
      plan: {
        host,
        ingress: { port: ports.ingress, servers: plans.map((plan) => ({ name: plan.name, host, port: plan.ports.ingress })) },
        admin: { port: ports.admin, servers: plans.map((plan) => ({ name: plan.name, host, port: plan.ports.admin })) },
        worker: { port: ports.worker, servers: replicas.map((replica) => ({ name: replica.name, host, port: replica.ports.endpoint })) },
        statsPort: ports.stats,
      },
      configFile: join(parameters.dataDir, "haproxy.cfg"),
      logFile: join(parameters.logDir, "haproxy.log"),
    });
    stoppers.push(haproxy.stop);
    say(`haproxy up (statistics ${urls.stats})`);

    const restate = await startRestateCluster({ plans });
    stoppers.push(restate.stop);
    say(`restate cluster up: ${plans.map((plan) => `${plan.name} ${plan.nodeUrl}`).join(", ")}`);
    await waitFor("the balancer to reach Restate's ingress and admin API", async () => {
      const [ingress, admin] = await Promise.all([
        fetch(`${urls.ingress}/restate/health`, { signal: AbortSignal.timeout(1_000) }),
        fetch(`${urls.admin}/health`, { signal: AbortSignal.timeout(1_000) }),
      ]);
      return ingress.ok && admin.ok;
    });

    stoppers.push(async () => {
      await Promise.all(replicas.map((replica) => replica.stop()));
    });
    // One after the other: the first registers the deployment, the next ones find it unchanged.
    for (const replica of replicas) {
      await replica.start();
      say(`${replica.name} ready (endpoint :${replica.ports.endpoint}, ops ${replica.opsUrl})`);
    }

    return {
      urls,
      nodes: restate.nodes,
      replicas,
      haproxy,
      requestsPerReplica: async () => {
        const rows = await readServerStats(urls.stats);
        return Object.fromEntries(rows.filter((row) => row.backend === "worker_replicas").map((row) => [row.server, row.requests]));
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
