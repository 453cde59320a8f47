/**
 * Where the DAPI meets Restate: waits are bounded and named correctly, and force-redeploy is no way
 * to probe the network from Restate's host.
 */
import { mkdtemp } from "node:fs/promises";
import { createServer as createH2cServer } from "node:http2";
import { createServer as createTcpServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../../infra/local/free-port.ts";
import { startRestateServer, type RunningRestateServer } from "../../infra/local/restate-server.ts";
import { operationsAuditLog } from "../../shared/db/schema/index.ts";
import { createRestateAdminClient } from "../../shared/restate/admin-client.ts";
import { RESTATE, startDapiHarness, type DapiHarness } from "../helpers/dapi-harness.ts";
import { createWorkerProcess, workerEnvironment, type WorkerProcess } from "../helpers/worker-process.ts";

const stack = inject("stack");
const REDEPLOY = `${RESTATE}/force-redeploy`;
const BOUND_MS = 1_500;

describe("bounded waits", () => {
  let restate: RunningRestateServer;
  let dapi: DapiHarness;
  beforeAll(async () => {
    const [ingress, admin, node] = await Promise.all([freePort(), freePort(), freePort()]);
    restate = await startRestateServer({
      baseDir: await mkdtemp(join(tmpdir(), "ddwf-restate-hang-")),
      ports: { ingress, admin, node },
      logFile: join(stack.logDir, "restate-server-hang.log"),
      env: { RESTATE_DEFAULT_NUM_PARTITIONS: "1" },
    });
    dapi = await startDapiHarness({ restate: { adminUrl: restate.adminUrl, ingressUrl: restate.ingressUrl }, restateTimeoutMs: BOUND_MS });
  });
  afterAll(async () => {
    restate.process.kill("SIGCONT");
    await restate.stop();
    await dapi.close();
  });

  it("answers RESTATE_ADMIN_UNREACHABLE within the configured bound while the admin API hangs", async () => {
    restate.process.kill("SIGSTOP");
    try {
      for (const [path, body] of [
        [REDEPLOY, { serviceUrl: `http://127.0.0.1:${await freePort()}/` }],
        [`${RESTATE}/recover-stuck-workflow`, { serviceName: "EngineCanary", serviceKey: "hung-admin" }],
      ] as const) {
        const started = performance.now();
        const answer = await dapi.call("POST", path, body);
        const elapsed = performance.now() - started;

        expect(answer.status, path).toBe(503);
        expect(answer.body).toMatchObject({ code: "RESTATE_ADMIN_UNREACHABLE" });
        // The bound, plus at most one short check that the admin API itself is gone.
        expect(elapsed, path).toBeLessThan(BOUND_MS + 2_000);
      }
    } finally {
      restate.process.kill("SIGCONT");
    }
  });
});

describe("force-redeploy and the network behind Restate", () => {
  let dapi: DapiHarness;
  beforeAll(async () => {
    dapi = await startDapiHarness({ restateTimeoutMs: BOUND_MS });
  });
  afterAll(async () => {
    await dapi.close();
  });

  it("reports a service URL that accepts the connection and never answers as that endpoint not answering", async () => {
    const held: Socket[] = [];
    const silent = createTcpServer((socket) => {
      held.push(socket);
      socket.resume();
    });
    const port = await freePort();
    await new Promise<void>((resolve) => silent.listen(port, "127.0.0.1", resolve));
    try {
      const answer = await dapi.call("POST", REDEPLOY, { serviceUrl: `http://127.0.0.1:${port}/` });

      expect(answer.status).toBe(504);
      expect(answer.body).toMatchObject({ code: "SERVICE_ENDPOINT_NOT_ANSWERING" });
    } finally {
      for (const socket of held) socket.destroy();
      silent.close();
    }
  });

  it("refuses Restate's own admin and ingress ports and the metadata address, naming serviceUrl", async () => {
    for (const serviceUrl of [stack.restateAdminUrl, stack.restateIngressUrl, "http://169.254.169.254/latest/", "http://[::ffff:169.254.169.254]/"]) {
      const answer = await dapi.call("POST", REDEPLOY, { serviceUrl });

      expect(answer.status, serviceUrl).toBe(400);
      expect(answer.body, serviceUrl).toMatchObject({ code: "VALIDATION_FAILED", data: { issues: [{ field: "serviceUrl" }] } });
    }
  });

  it("lets DAPI_REDEPLOY_ALLOW name a target that would otherwise be refused", async () => {
    const admin = new URL(stack.restateAdminUrl);
    const allowing = await startDapiHarness({ redeployAllow: [`${admin.hostname}:${admin.port}`] });
    try {
      const answer = await allowing.call("POST", REDEPLOY, { serviceUrl: stack.restateAdminUrl });

      // Restate itself then refuses it: its admin API is no service endpoint.
      expect(answer.status).toBe(502);
      expect(answer.body).toMatchObject({ code: "RESTATE_ADMIN_REQUEST_FAILED", message: expect.stringContaining("HTTP 404") as unknown });
    } finally {
      await allowing.close();
    }
  });

  it("does not relay the target's response headers or body", async () => {
    const target = createH2cServer((_request, response) => {
      response.writeHead(404, { "x-probe-secret": "header-secret-value" });
      response.end("body-secret-value");
    });
    const port = await freePort();
    await new Promise<void>((resolve) => target.listen(port, "127.0.0.1", resolve));
    try {
      const answer = await dapi.call("POST", REDEPLOY, { serviceUrl: `http://127.0.0.1:${port}/` });

      expect(answer.status).toBe(502);
      expect(answer.body).toMatchObject({ code: "RESTATE_ADMIN_REQUEST_FAILED", message: expect.stringContaining("HTTP 404") as unknown });
      const everything = JSON.stringify(answer.body) + JSON.stringify(await dapi.db.select().from(operationsAuditLog)) + dapi.logLines.join("\n");
      expect(everything).not.toContain("header-secret-value");
      expect(everything).not.toContain("body-secret-value");
    } finally {
      target.close();
    }
  });

  describe("with a worker", () => {
    let worker: WorkerProcess;
    beforeAll(async () => {
      worker = createWorkerProcess(stack, await workerEnvironment(stack, inject("databaseUrl"), { WORKER_AUTO_REGISTER: "false" }), "dapi-boundaries-worker");
      await worker.start();
    });
    afterAll(async () => {
      await worker.stop();
    });

    it("sends Restate the normalised URL, not the raw string", async () => {
      // A URL parser reads this as the worker's URL; as a raw string it would be another deployment.
      const raw = `${worker.endpointUrl.replace("http://", "HTTP://")}/v1/../`;

      const answer = await dapi.call<{ deploymentId: string }>("POST", REDEPLOY, { serviceUrl: raw });

      expect(answer.status).toBe(200);
      const deployments = await createRestateAdminClient({ baseUrl: stack.restateAdminUrl }).listDeployments();
      expect(deployments.find((deployment) => deployment.id === answer.body.deploymentId)?.uri).toBe(`${worker.endpointUrl}/`);
    });
  });
});
