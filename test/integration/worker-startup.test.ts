import { spawn } from "node:child_process";
import * as clients from "@restatedev/restate-sdk-clients";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { freePort } from "../../infra/local/free-port.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { connectDatabase } from "../../shared/db/client.ts";
import { createRestateAdminClient, sameDeploymentUri } from "../../shared/restate/admin-client.ts";
import { transactionReconciler } from "../../services/workflows/reconciliation/api.ts";
import { createInvocationTools } from "../helpers/restate-invocations.ts";
import { startRpcProxy } from "../helpers/rpc-proxy.ts";
import { startTcpProxy, targetOf } from "../helpers/tcp-proxy.ts";
import { createWorkerProcess, startWorkerInProcess, workerEnvironment, type WorkerProcess } from "../helpers/worker-process.ts";

const stack = inject("stack");
const databaseUrl = inject("databaseUrl");
const admin = createRestateAdminClient({ baseUrl: stack.restateAdminUrl });

function runToExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [resolve("services/main.ts")], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("exit", (code) => done({ code, stderr }));
  });
}

describe("worker start-up", () => {
  let worker: WorkerProcess | undefined;
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
  });

  it("refuses to start with a bad variable and names it", async () => {
    const result = await runToExit({ WORKER_PORT: "not-a-port", CHAIN_ID: "-4" });
    expect(result.code).toBe(78);
    expect(result.stderr).toContain("WORKER_PORT");
    expect(result.stderr).toContain("CHAIN_ID");
    expect(result.stderr).toContain('"not-a-port"');
  });

  it("registers with Restate and turns ready with good config", async () => {
    worker = createWorkerProcess(stack, await workerEnvironment(stack, databaseUrl));
    await worker.start();
    const ready = await (await fetch(`${worker.opsUrl}/health/ready`)).json();
    expect(ready).toMatchObject({ status: "ready", pending: [] });
    const deployment = (await admin.listDeployments()).find((d) => sameDeploymentUri(d.uri, worker!.endpointUrl));
    expect(deployment?.services.map((s) => s.name)).toContain("EngineCanary");
    const metrics = await (await fetch(`${worker.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(/dalp_ddwf_endpoint_registrations_total\{[^}]*outcome="registered"[^}]*\} 1/);
    expect(metrics).toMatch(/dalp_ddwf_services_bound\{[^}]*\} 9/);
  });

  it("runs in the test's own process too, when nothing needs killing", async () => {
    const running = await startWorkerInProcess(await workerEnvironment(stack, databaseUrl));
    try {
      expect((await fetch(`http://127.0.0.1:${running.opsPort}/health/ready`)).status).toBe(200);
      const deployment = (await admin.listDeployments()).find((d) => d.id === running.deploymentId);
      expect(deployment?.services.map((s) => s.name).sort()).toEqual([
        "AssetIssuanceWorkflow",
        "ChainMonitor",
        "EngineCanary",
        "ExchangeRateScheduler",
        "IdentityRecoveryWorkflow",
        "TransactionExecutionWorkflow",
        "TransactionProcessor",
        "TransactionReconciler",
        "WebhookDeliveryWorkflow",
      ]);
    } finally {
      await running.stop();
    }
  });

  it("says where the embedded database it serves itself is: in its log and at /info on the ops server", async () => {
    // DATABASE_URL empty counts as unset: the worker serves a PGlite database of its own.
    worker = createWorkerProcess(stack, await workerEnvironment(stack, databaseUrl, { DATABASE_URL: "", PGLITE_DATA_DIR: "memory://", WORKER_AUTO_REGISTER: "false" }), "embedded-db-worker");
    await worker.start();

    const info = (await (await fetch(`${worker.opsUrl}/info`)).json()) as { database: { kind: string; url: string } };
    expect(info.database).toMatchObject({ kind: "embedded", url: expect.stringMatching(/^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?application_name=ddwf-embedded$/) as unknown });
    const logged = readFileSync(worker.logFile, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line) as { msg: string; url?: string });
    expect(logged.find((line) => line.msg === "database ready")?.url).toBe(info.database.url);
    // The URL it shows is one another process can use.
    const client = connectDatabase({ url: info.database.url, embedded: true, poolSize: 1 });
    try {
      expect(await client.sql`select 1 as one`).toEqual([{ one: 1 }]);
    } finally {
      await client.close();
    }
  });

  it("answers liveness while registration is still pending and lists what is pending", async () => {
    const closedPort = await freePort();
    const env = await workerEnvironment(stack, databaseUrl, {
      RESTATE_ADMIN_URL: `http://127.0.0.1:${closedPort}`,
      WORKER_REGISTRATION_TIMEOUT_MS: "120000",
    });
    worker = createWorkerProcess(stack, env);
    void worker.start().catch(() => {});
    const ready = await waitFor("readiness to report registration as the first step pending", async () => {
      const response = await fetch(`${worker!.opsUrl}/health/ready`);
      const body = (await response.json()) as { pending: string[] };
      return response.status === 503 && body.pending[0] === "registration" ? body : undefined;
    });
    expect(ready.pending).toEqual(["registration", "background-jobs"]);
    expect(ready).toMatchObject({ done: ["telemetry", "database", "endpoint"] });
    expect((await fetch(`${worker.opsUrl}/health/live`)).status).toBe(200);
  });

  it("turns ready while its chain's reconciler is busy with a round that cannot finish yet", async () => {
    // Worker A reaches the chain through an RPC that answers nothing, and a reconciliation round
    // starts on it: the round holds TransactionReconciler/<chain> while it waits for the chain.
    const rpc = await startRpcProxy(stack.chainRpcUrl);
    const invocations = createInvocationTools(stack);
    let busyWorker: WorkerProcess | undefined;
    let round: { invocationId: string } | undefined;
    try {
      busyWorker = createWorkerProcess(stack, await workerEnvironment(stack, databaseUrl, { CHAIN_RPC_URL: rpc.url }), "busy-reconciler-worker");
      await busyWorker.start();
      rpc.setMode("down");
      const ingress = clients.connect({ url: stack.restateIngressUrl });
      round = await ingress.objectSendClient(transactionReconciler, String(stack.chainId)).runOnce();
      await waitFor("the round to wait for the chain", async () => rpc.stats().refused >= 2);

      // A second worker boots meanwhile: its start-up must not queue behind that round.
      worker = createWorkerProcess(stack, await workerEnvironment(stack, databaseUrl), "second-worker");
      await worker.start();
      expect((await fetch(`${worker.opsUrl}/health/ready`)).status).toBe(200);

      // Once the chain answers again the round ends.
      rpc.setMode("up");
      await invocations.finished(round.invocationId);
    } finally {
      rpc.setMode("up");
      // A round left pinned to a stopped worker would hold the reconciler's key for later tests.
      if (round) await invocations.finished(round.invocationId).catch(() => invocations.killActive("TransactionReconciler", String(stack.chainId)));
      await busyWorker?.stop();
      await rpc.close();
    }
  });

  it("survives Restate's ingress going away after registration, and turns ready once it is back", async () => {
    const ingress = await startTcpProxy(targetOf(stack.restateIngressUrl));
    try {
      ingress.setDown(true);
      const env = await workerEnvironment(stack, databaseUrl, { RESTATE_INGRESS_URL: `http://127.0.0.1:${ingress.port}` });
      worker = createWorkerProcess(stack, env, "ingress-outage-worker");
      const starting = worker.start();
      let exited = false;
      void worker.current().exited.then(() => (exited = true));
      await waitFor("registration done, background jobs waiting for ingress", async () => {
        const body = (await (await fetch(`${worker!.opsUrl}/health/ready`)).json()) as { pending: string[]; done: string[] };
        return body.done.includes("registration") && body.pending.includes("background-jobs") ? true : undefined;
      });
      // Several attempts refused: the process is still there, trying again rather than exiting.
      await waitFor("several refused attempts to reach ingress", async () => ingress.refused() >= 3);
      expect(exited).toBe(false);
      ingress.setDown(false);
      await starting;
      expect((await fetch(`${worker.opsUrl}/health/ready`)).status).toBe(200);
    } finally {
      await ingress.close();
    }
  });
});
