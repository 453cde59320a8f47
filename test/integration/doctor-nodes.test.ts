import { describe, expect, inject, it } from "vitest";
import { freePort } from "../../infra/local/free-port.ts";
import { RESTATE, startDapiHarness } from "../helpers/dapi-harness.ts";

type NodesComponent = {
  status: string;
  clusterName: string | null;
  metadataMembers: string[];
  items: { url: string; nodeId: string | null; generation: number | null; status: string; roles: string[]; roleStatus: Record<string, string | null>; error: string | null }[];
  error: string | null;
};

const stack = inject("stack");

describe.skipIf(stack.restateNodeUrl === null)("doctor's nodes component on a single-node Restate", () => {
  const nodeUrl = stack.restateNodeUrl!;

  async function nodesReadout(nodeUrls: string[]): Promise<NodesComponent> {
    const dapi = await startDapiHarness({ restate: { nodeUrls }, probeTimeoutMs: 2_000 });
    try {
      const answer = await dapi.call<{ nodes: NodesComponent }>("POST", `${RESTATE}/doctor`, {});
      expect(answer.status).toBe(200);
      return answer.body.nodes;
    } finally {
      await dapi.close();
    }
  }

  it("reports the node alive with its id, roles and role states, and the admin API's metadata membership", async () => {
    const nodes = await nodesReadout([nodeUrl]);

    expect(nodes).toMatchObject({ status: "ok", clusterName: "ddwf-test", metadataMembers: ["N1"], error: null });
    expect(nodes.items).toEqual([
      expect.objectContaining({
        url: nodeUrl,
        nodeId: "N1",
        status: "alive",
        roles: expect.arrayContaining(["admin", "worker", "metadata-server", "log-server", "http-ingress"]),
        roleStatus: { admin: "Ready", worker: "Ready", logServer: "Ready", metadataServer: "Member" },
        error: null,
      }),
    ]);
    expect(nodes.items[0]?.generation).toBeGreaterThanOrEqual(1);
  });

  it("marks a node that does not answer unreachable and the component degraded, naming the node", async () => {
    const deadUrl = `http://127.0.0.1:${await freePort()}`;

    const nodes = await nodesReadout([nodeUrl, deadUrl]);

    expect(nodes.status).toBe("degraded");
    expect(nodes.items.find((item) => item.url === deadUrl)).toMatchObject({ status: "unreachable", nodeId: null, error: expect.stringMatching(/ECONNREFUSED/) });
    expect(nodes.error).toContain(deadUrl);
  });

  it("is unreachable when no configured node answers, while the membership still comes from the admin API", async () => {
    const nodes = await nodesReadout([`http://127.0.0.1:${await freePort()}`]);

    expect(nodes).toMatchObject({ status: "unreachable", metadataMembers: ["N1"] });
  });
});
