/**
 * One Restate node's own view of itself: `GET /health` on its node port (5122 by default, the port
 * of the node-to-node fabric), as restate-server 1.7 answers it. Every node answers for itself
 * only; the cluster's membership comes from the admin API's `/cluster-health`.
 *
 * Used by the doctor's `nodes` component and by the cluster launcher, which waits on it.
 */
import { z } from "zod";

export const nodeHealthAnswer = z
  .object({
    /** `Alive` once the node runs; other values while it starts or stops. */
    status: z.string(),
    /** Generational id, e.g. `N2:3` (node N2, third start with its data). Absent before it joined. */
    node_id: z.string().optional(),
    cluster_name: z.string().optional(),
    roles: z.array(z.string()).default([]),
    admin_status: z.string().optional(),
    worker_status: z.string().optional(),
    log_server_status: z.string().optional(),
    metadata_server_status: z.string().optional(),
  })
  .loose();

export type NodeHealth = z.infer<typeof nodeHealthAnswer>;

/** Reads a node's `/health`; throws on a transport failure, a non-200 answer or an unexpected body. */
export async function readNodeHealth(nodeUrl: string, options?: { timeoutMs?: number }): Promise<NodeHealth> {
  const response = await fetch(`${nodeUrl.replace(/\/+$/, "")}/health`, { signal: AbortSignal.timeout(options?.timeoutMs ?? 2_000) });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`node health answered ${response.status}`);
  }
  return nodeHealthAnswer.parse(await response.json());
}

/** `N2:3` → `{ nodeId: "N2", generation: 3 }`; anything else → nulls. */
export function splitGenerationalNodeId(value: string | undefined): { nodeId: string | null; generation: number | null } {
  const match = /^(N\d+)(?::(\d+))?$/.exec(value ?? "");
  if (!match) return { nodeId: null, generation: null };
  return { nodeId: match[1] ?? null, generation: match[2] === undefined ? null : Number(match[2]) };
}

/** A node that runs and whose worker role (partition processors) is ready, the state a drill waits for. */
export function isNodeServing(health: NodeHealth): boolean {
  return health.status === "Alive" && (health.worker_status === undefined || health.worker_status === "Ready");
}
