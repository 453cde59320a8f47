/**
 * The doctor's `nodes` component: the Restate cluster node by node, so a dead node shows in the same
 * readout as deployments and services.
 *
 * Restate 1.7's admin API names the members of the replicated metadata cluster
 * (`GET /cluster-health`) but not each node's state; that is each node's own `GET /health` on its
 * node port. So the component reads both: membership from the admin API, and the state of every
 * node in `RESTATE_NODE_URLS` from the node itself. A node that does not answer is `unreachable`;
 * one that answers anything but `Alive` with ready roles is `degraded`. The component is `ok` only
 * when every node is alive and every metadata member answered; `unreachable` when no node did.
 */
import { z } from "zod";
import { errorMessageOf } from "../../shared/errors.ts";
import type { RestateAdminClient } from "../../shared/restate/admin-client.ts";
import { readNodeHealth, splitGenerationalNodeId, type NodeHealth } from "../../shared/restate/node-health.ts";
import { redactUrlUserInfo } from "../redact.ts";

const componentStatus = z.enum(["ok", "degraded", "unreachable"]);

export const doctorNodes = z
  .object({
    status: componentStatus,
    clusterName: z.string().nullable().describe("Restate's cluster name, from the admin API"),
    metadataMembers: z.array(z.string()).describe("Node ids in the replicated metadata cluster, from the admin API (e.g. N1)"),
    items: z.array(
      z.object({
        url: z.string().describe("The node URL probed (node port), as configured in RESTATE_NODE_URLS"),
        nodeId: z.string().nullable().describe("Plain node id, e.g. N2; null when the node did not answer"),
        generation: z.number().int().nullable().describe("How many times this node id has started with its data"),
        status: z.enum(["alive", "degraded", "unreachable"]),
        roles: z.array(z.string()),
        roleStatus: z
          .object({
            admin: z.string().nullable(),
            worker: z.string().nullable(),
            logServer: z.string().nullable(),
            metadataServer: z.string().nullable(),
          })
          .describe("Each role's state as the node reports it (Ready, Member, …); null for a role it does not run"),
        latencyMs: z.number().int().nonnegative().nullable(),
        error: z.string().nullable(),
      }),
    ),
    error: z.string().nullable().describe("Why the component is not ok; null when it is"),
  })
  .describe("Every configured Restate node and its state");

export type DoctorNodes = z.infer<typeof doctorNodes>;
type NodeItem = DoctorNodes["items"][number];

const clusterHealthAnswer = z
  .object({
    cluster_name: z.string(),
    metadata_cluster_health: z.object({ members: z.array(z.number().int()) }).loose().nullable().optional(),
  })
  .loose();

export async function probeNodes(parameters: { admin: RestateAdminClient; nodeUrls: string[]; timeoutMs: number }): Promise<DoctorNodes> {
  const [membership, items] = await Promise.all([
    parameters.admin.clusterHealth().then(
      (answer) => ({ ok: true as const, value: clusterHealthAnswer.parse(answer) }),
      (error: unknown) => ({ ok: false as const, error: errorMessageOf(error) }),
    ),
    Promise.all(parameters.nodeUrls.map((url) => probeNode(url, parameters.timeoutMs))),
  ]);
  const metadataMembers = membership.ok ? (membership.value.metadata_cluster_health?.members ?? []).map((id) => `N${id}`).sort() : [];
  const problems: string[] = [];
  if (!membership.ok) problems.push(`cluster membership unavailable: ${membership.error}`);
  for (const item of items) {
    if (item.status !== "alive") problems.push(`${item.nodeId ?? item.url} is ${item.status}${item.error ? ` (${item.error})` : ""}`);
  }
  const answered = new Set(items.filter((item) => item.status === "alive").map((item) => item.nodeId));
  const silentMembers = metadataMembers.filter((id) => !answered.has(id));
  if (membership.ok && silentMembers.length > 0 && problems.length === 0) {
    problems.push(`metadata members without a live node in RESTATE_NODE_URLS: ${silentMembers.join(", ")}`);
  }
  const status = items.every((item) => item.status === "unreachable") ? "unreachable" : problems.length > 0 ? "degraded" : "ok";
  return {
    status,
    clusterName: membership.ok ? membership.value.cluster_name : null,
    metadataMembers,
    items,
    error: problems.length > 0 ? redactUrlUserInfo(problems.join("; ")) : null,
  };
}

async function probeNode(url: string, timeoutMs: number): Promise<NodeItem> {
  const started = performance.now();
  let health: NodeHealth;
  try {
    health = await readNodeHealth(url, { timeoutMs });
  } catch (error) {
    return {
      url,
      nodeId: null,
      generation: null,
      status: "unreachable",
      roles: [],
      roleStatus: { admin: null, worker: null, logServer: null, metadataServer: null },
      latencyMs: null,
      error: redactUrlUserInfo(describeFailure(error)),
    };
  }
  const { nodeId, generation } = splitGenerationalNodeId(health.node_id);
  const roleStatus = {
    admin: health.admin_status ?? null,
    worker: health.worker_status ?? null,
    logServer: health.log_server_status ?? null,
    metadataServer: health.metadata_server_status ?? null,
  };
  const notReady = Object.entries(roleStatus).filter(([, state]) => state !== null && !["Ready", "Member"].includes(state));
  const alive = health.status === "Alive" && notReady.length === 0;
  return {
    url,
    nodeId,
    generation,
    status: alive ? "alive" : "degraded",
    roles: [...health.roles].sort(),
    roleStatus,
    latencyMs: Math.round(performance.now() - started),
    error: alive ? null : `node reports ${health.status}${notReady.map(([role, state]) => `, ${role} ${state}`).join("")}`,
  };
}

function describeFailure(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return "no answer in time";
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code ?? errorMessageOf(error);
}
