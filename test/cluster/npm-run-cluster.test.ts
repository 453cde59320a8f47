/**
 * `npm run cluster` as a user runs it: the launcher prints the URLs, every node's id and roles, the
 * request-identity key and `ddwf ready`; the balancer answers on the configured ingress and admin
 * URLs, refuses unsigned calls on the worker URL, the DAPI's doctor sees three live nodes, and
 * Ctrl-C stops every child. The nodes use the launcher's fixed ports
 * (15122-15124, 19070-19072, 18080-18082) and the statistics page 8404; the rest is on free ports.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findHaproxy, HAPROXY_MISSING } from "../../infra/cluster/haproxy.ts";
import { DEFAULT_NODE_PORTS } from "../../infra/cluster/restate-nodes.ts";
import { startAnvil, type RunningAnvil } from "../../infra/local/anvil.ts";
import { freePort } from "../../infra/local/free-port.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { identityPublicKeyOfPem } from "../../shared/restate/request-identity.ts";
import { callEndpoint } from "../helpers/endpoint-calls.ts";
import { LOG_DIR } from "../helpers/stack.ts";

const fixedPorts = [...DEFAULT_NODE_PORTS.flatMap((ports) => [ports.node, ports.admin, ports.ingress]), 8404];

function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once("error", () => done(false));
    server.listen(port, "127.0.0.1", () => server.close(() => done(true)));
  });
}

/**
 * `count` consecutive free ports none of which is in `taken` (then added to it): the launcher puts
 * replica i on WORKER_PORT + i and OPS_PORT + i - 1.
 */
async function freeConsecutivePorts(count: number, taken: Set<number>): Promise<number> {
  for (;;) {
    const first = await freePort();
    const block = Array.from({ length: count }, (_, i) => first + i);
    if (block.some((port) => port > 65535 || taken.has(port))) continue;
    if ((await Promise.all(block.map(portIsFree))).every(Boolean)) {
      for (const port of block) taken.add(port);
      return first;
    }
  }
}

const haproxyInstalled = findHaproxy() !== undefined;
// On a shared development machine another process may hold a fixed port; CI's machine is its own.
const busy = (await Promise.all(fixedPorts.map(portIsFree))).some((free) => !free);

describe.skipIf((!haproxyInstalled || busy) && !process.env.CI)("npm run cluster", () => {
  let anvil: RunningAnvil;
  beforeAll(async () => {
    if (!haproxyInstalled) throw new Error(HAPROXY_MISSING);
    anvil = await startAnvil({ port: await freePort(), logFile: join(LOG_DIR, "cluster", "launcher-anvil.log") });
  });
  afterAll(async () => {
    await anvil?.stop();
  });

  it("starts three nodes, the balancer, the replicas and the DAPI, wires request identity, says ddwf ready, and stops everything on Ctrl-C", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "ddwf-npm-cluster-"));
    const taken = new Set<number>();
    const worker = await freeConsecutivePorts(3, taken);
    const ops = await freeConsecutivePorts(2, taken);
    const [ingress, admin, dapi] = [await freeConsecutivePorts(1, taken), await freeConsecutivePorts(1, taken), await freeConsecutivePorts(1, taken)];
    const child = spawn(process.execPath, [resolve("infra/cluster/start-cluster.ts")], {
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        PGLITE_DATA_DIR: join(dataDir, "pglite"),
        CHAIN_RPC_URL: anvil.rpcUrl,
        RESTATE_INGRESS_URL: `http://127.0.0.1:${ingress}`,
        RESTATE_ADMIN_URL: `http://127.0.0.1:${admin}`,
        WORKER_PORT: String(worker),
        OPS_PORT: String(ops),
        DAPI_PORT: String(dapi),
        RECONCILE_INTERVAL_MS: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
    try {
      await waitFor("the ready line", async () => output.includes("ddwf ready"), { timeoutMs: 150_000, abort: exited.then(() => output) });

      for (const [i, name] of ["n1", "n2", "n3"].entries()) {
        expect(output).toMatch(new RegExp(`Node ${name} +N\\d+:\\d+ http://127\\.0\\.0\\.1:${DEFAULT_NODE_PORTS[i]!.node} .*roles .*metadata-server.*metadata Member`));
      }
      expect(output.match(/provisioned the cluster/g)).toHaveLength(1);
      expect(output).toContain(`Restate ingress   http://127.0.0.1:${ingress}`);
      expect(output).toContain(`Worker deployment http://127.0.0.1:${worker}`);
      expect((await fetch(`http://127.0.0.1:${ingress}/restate/health`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${admin}/health`)).status).toBe(200);
      // One key pair in DATA_DIR/cluster, printed; the worker URL takes only what the nodes sign.
      const keyFile = join(dataDir, "cluster", "restate-identity", "restate-identity.pem");
      const publicKey = identityPublicKeyOfPem(await readFile(keyFile, "utf8"));
      expect(output).toContain(`Request identity  every node signs with ${keyFile}; the replicas accept only ${publicKey}`);
      expect(await callEndpoint(`http://127.0.0.1:${worker}`, "/discover")).toBe(401);

      const key = /Operator API key +(\S+)/.exec(output)?.[1];
      const doctor = await fetch(`http://127.0.0.1:${dapi}/api/v2/admin/operator/restate/doctor`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": key ?? "" },
        body: "{}",
      });
      const readout = (await doctor.json()) as { nodes: { status: string; items: { status: string }[] }; deployments: { items: { serviceUrl: string }[] } };
      expect(readout.nodes.status).toBe("ok");
      expect(readout.nodes.items.map((item) => item.status)).toEqual(["alive", "alive", "alive"]);
      expect(readout.deployments.items.map((item) => item.serviceUrl)).toEqual([`http://127.0.0.1:${worker}/`]);
    } finally {
      child.kill("SIGINT");
    }
    expect(await exited).toBe(0);
    expect(output).toContain("ddwf: stopped");
    expect((await Promise.all(fixedPorts.map(portIsFree))).every(Boolean)).toBe(true);
  });
});
