/**
 * The three restate-server nodes of a local cluster, started from the npm binary as owned child
 * processes (stopped by PID). What all nodes share is in `restate-cluster.toml`; what differs per
 * node is set here through RESTATE_* variables:
 *
 * - `RESTATE_NODE_NAME` (n1, n2, n3) and `RESTATE_BASE_DIR` (its own data folder; a restarted node
 *   finds its identity and data there and rejoins);
 * - the three listeners: node/fabric (`RESTATE_BIND_ADDRESS`, advertised to the other nodes),
 *   admin and ingress;
 * - `RESTATE_AUTO_PROVISION`: only the first node provisions the cluster (nodes configuration,
 *   partition table, logs); the others join it;
 * - `RESTATE_METADATA_CLIENT__ADDRESSES`: every node's fabric address, so each node finds the
 *   replicated metadata store (all three nodes run the metadata-server role and form its quorum).
 *
 * - `RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE`: the one request-identity key
 *   every node signs its requests to the worker with (any node's admin API discovers the deployment,
 *   any node's partition leaders invoke it), so the replicas need to trust only its public key.
 *
 * Other per-deployment settings can be added to the shared file or to `extraEnv` without touching
 * this plan.
 */
import { join, resolve } from "node:path";
import { isNodeServing, readNodeHealth } from "../../shared/restate/node-health.ts";
import { RESTATE_SIGNING_KEY_ENV } from "../../shared/restate/request-identity.ts";
import { restateServerBinary } from "../local/binaries.ts";
import { createRestartableProcess, type RestartableProcess } from "./restartable-process.ts";

export const RESTATE_CLUSTER_CONFIG_FILE = "infra/cluster/restate-cluster.toml";

export type RestateNodePorts = { node: number; admin: number; ingress: number };

export type RestateNodePlan = {
  name: string;
  provisions: boolean;
  ports: RestateNodePorts;
  nodeUrl: string;
  adminUrl: string;
  ingressUrl: string;
  baseDir: string;
  logFile: string;
  env: Record<string, string>;
};

/**
 * The fixed loopback ports of `npm run cluster`: n1, n2, n3 on 15122-15124 (node), 19070-19072 (admin)
 * and 18080-18082 (ingress). All of them sit below Linux's ephemeral range (32768-60999), so an outgoing
 * connection can never hold one.
 * (The earlier scheme put n3 on 35122/39070/38080, inside that range, and n3 sometimes failed to bind.)
 */
export const DEFAULT_NODE_PORTS: RestateNodePorts[] = [0, 1, 2].map((i) => ({ node: 15122 + i, admin: 19070 + i, ingress: 18080 + i }));

export function planRestateNodes(parameters: {
  ports: RestateNodePorts[];
  dataDir: string;
  logDir: string;
  /** PEM file of the ed25519 key all nodes sign their requests to the worker with (request identity). */
  requestIdentityKeyFile: string;
  host?: string;
  extraEnv?: Record<string, string>;
}): RestateNodePlan[] {
  const host = parameters.host ?? "127.0.0.1";
  const fabric = parameters.ports.map((ports) => `http://${host}:${ports.node}/`);
  return parameters.ports.map((ports, index) => {
    const name = `n${index + 1}`;
    const baseDir = resolve(join(parameters.dataDir, name));
    return {
      name,
      provisions: index === 0,
      ports,
      nodeUrl: `http://${host}:${ports.node}`,
      adminUrl: `http://${host}:${ports.admin}`,
      ingressUrl: `http://${host}:${ports.ingress}`,
      baseDir,
      logFile: join(parameters.logDir, `restate-${name}.log`),
      env: {
        DO_NOT_TRACK: "1",
        RESTATE_LOG_DISABLE_ANSI_CODES: "true",
        RESTATE_NODE_NAME: name,
        RESTATE_BASE_DIR: baseDir,
        RESTATE_AUTO_PROVISION: index === 0 ? "true" : "false",
        RESTATE_BIND_ADDRESS: `${host}:${ports.node}`,
        RESTATE_ADVERTISED_ADDRESS: fabric[index]!,
        RESTATE_ADMIN__BIND_ADDRESS: `${host}:${ports.admin}`,
        RESTATE_INGRESS__BIND_ADDRESS: `${host}:${ports.ingress}`,
        RESTATE_METADATA_CLIENT__ADDRESSES: JSON.stringify(fabric),
        [RESTATE_SIGNING_KEY_ENV]: resolve(parameters.requestIdentityKeyFile),
        ...parameters.extraEnv,
      },
    };
  });
}

export type RestateClusterNode = RestartableProcess & { plan: RestateNodePlan };

function createNode(plan: RestateNodePlan, configFile: string): RestateClusterNode {
  const node = createRestartableProcess({
    process: {
      name: `restate-${plan.name}`,
      command: restateServerBinary(),
      args: ["--no-logo", "--config-file", resolve(configFile)],
      env: plan.env,
      output: plan.logFile,
    },
    // Serving: alive with its partitions ready, and answering on admin and ingress.
    serving: {
      description: `restate node ${plan.name} to serve (log: ${plan.logFile})`,
      intervalMs: 200,
      check: async () => {
        const [health, admin, ingress] = await Promise.all([
          readNodeHealth(plan.nodeUrl, { timeoutMs: 1_000 }),
          fetch(`${plan.adminUrl}/health`, { signal: AbortSignal.timeout(1_000) }),
          fetch(`${plan.ingressUrl}/restate/health`, { signal: AbortSignal.timeout(1_000) }),
        ]);
        return isNodeServing(health) && admin.ok && ingress.ok;
      },
    },
    graceMs: 15_000,
  });
  return { ...node, plan };
}

export type RunningRestateCluster = { nodes: RestateClusterNode[]; stop(): Promise<void> };

/**
 * Starts every node at once (the metadata quorum needs two of them before anything is served) and
 * waits until each one serves ingress, admin and its partitions.
 */
export async function startRestateCluster(parameters: { plans: RestateNodePlan[]; configFile?: string; timeoutMs?: number }): Promise<RunningRestateCluster> {
  const nodes = parameters.plans.map((plan) => createNode(plan, parameters.configFile ?? RESTATE_CLUSTER_CONFIG_FILE));
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  const started = await Promise.allSettled(nodes.map((node) => node.start({ timeoutMs: parameters.timeoutMs ?? 120_000 })));
  const failure = started.find((outcome) => outcome.status === "rejected");
  if (failure) {
    await stop();
    throw failure.reason;
  }
  return { nodes, stop };
}
