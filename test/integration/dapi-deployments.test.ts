import * as clients from "@restatedev/restate-sdk-clients";
import { afterEach, beforeAll, afterAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { createRestateAdminClient, sameDeploymentUri } from "../../shared/restate/admin-client.ts";
import type { EngineCanaryApi } from "../../services/workflows/engine-canary/api.ts";
import { createWorkerProcess, workerEnvironment, type WorkerProcess } from "../helpers/worker-process.ts";
import { RESTATE, startDapiHarness, type DapiHarness } from "../helpers/dapi-harness.ts";

const stack = inject("stack");
const admin = createRestateAdminClient({ baseUrl: stack.restateAdminUrl });
const ingress = clients.connect({ url: stack.restateIngressUrl });

/** The same worker under a second URL: Restate keeps `localhost` and `127.0.0.1` as two deployments. */
const localhostUrl = (worker: WorkerProcess) => worker.endpointUrl.replace("127.0.0.1", "localhost");
const deploymentAt = async (uri: string) => (await admin.listDeployments()).find((deployment) => sameDeploymentUri(deployment.uri, uri));

describe("force-redeploy and cleanup-stale-deployments", () => {
  let dapi: DapiHarness;
  const workers: WorkerProcess[] = [];
  const startWorker = async () => {
    const worker = createWorkerProcess(stack, await workerEnvironment(stack, inject("databaseUrl")), "dapi-deployments-worker");
    workers.push(worker);
    await worker.start();
    return worker;
  };
  beforeAll(async () => {
    dapi = await startDapiHarness();
  });
  afterEach(async () => {
    for (const worker of workers.splice(0)) await worker.stop();
  });
  afterAll(async () => {
    await dapi.close();
  });

  it("force-redeploy registers a second URL of the worker and answers its deployment id, deleting nothing", async () => {
    const worker = await startWorker();
    const original = await deploymentAt(worker.endpointUrl);

    const answer = await dapi.call("POST", `${RESTATE}/force-redeploy`, { serviceUrl: localhostUrl(worker) });

    expect(answer.status).toBe(200);
    const registered = await deploymentAt(localhostUrl(worker));
    expect(answer.body).toEqual({ acknowledged: true, deploymentId: registered?.id });
    expect(registered?.id).not.toBe(original?.id);
    expect((await deploymentAt(worker.endpointUrl))?.id).toBe(original?.id);
    expect(await dapi.auditRowsOf(answer.requestId)).toMatchObject([
      { outcome: "success", route: `POST ${RESTATE}/force-redeploy`, arguments: { serviceUrl: localhostUrl(worker) } },
    ]);
  });

  it("cleanup keeps the deployment at the given URL and removes the worker's other deployment", async () => {
    const worker = await startWorker();
    const stale = await deploymentAt(worker.endpointUrl);
    const redeployed = await dapi.call<{ deploymentId: string }>("POST", `${RESTATE}/force-redeploy`, { serviceUrl: localhostUrl(worker) });

    const answer = await dapi.call("POST", `${RESTATE}/cleanup-stale-deployments`, { serviceUrl: localhostUrl(worker) });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ acknowledged: true });
    const ids = (await admin.listDeployments()).map((deployment) => deployment.id);
    expect(ids).toContain(redeployed.body.deploymentId);
    expect(ids).not.toContain(stale?.id);
    expect(await dapi.auditRowsOf(answer.requestId)).toMatchObject([{ outcome: "success", arguments: { serviceUrl: localhostUrl(worker) } }]);
  });

  it("cleanup without forceDrain leaves a stale deployment in place while an unfinished invocation is pinned to it", async () => {
    const worker = await startWorker();
    const stale = await deploymentAt(worker.endpointUrl);
    const key = `dapi-pinned-${crypto.randomUUID()}`;
    const canary = ingress.workflowClient<EngineCanaryApi>({ name: "EngineCanary" }, key);
    const submitted = await canary.workflowSubmit({ steps: 2, holdAfterStep: 1 });
    await waitFor("the canary to hold after step 1", async () => (await canary.status()).waitingForRelease);
    await dapi.call("POST", `${RESTATE}/force-redeploy`, { serviceUrl: localhostUrl(worker) });

    const answer = await dapi.call("POST", `${RESTATE}/cleanup-stale-deployments`, { serviceUrl: localhostUrl(worker), forceDrain: false });

    expect(answer.body).toEqual({ acknowledged: true });
    expect((await deploymentAt(worker.endpointUrl))?.id).toBe(stale?.id);
    const logged = dapi.logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.id === stale?.id);
    expect(logged).toMatchObject({ outcome: "kept", reason: expect.stringContaining("pinned") as unknown });
    await canary.release();
    expect(await canary.workflowAttach()).toMatchObject({ runKey: key, steps: 2 });
    expect(submitted.invocationId).toMatch(/^inv_/);
  });

  it("cleanup with an unknown URL answers RESTATE_DEPLOYMENT_NOT_FOUND and changes nothing", async () => {
    const before = (await admin.listDeployments()).map((deployment) => deployment.id).sort();

    const answer = await dapi.call("POST", `${RESTATE}/cleanup-stale-deployments`, { serviceUrl: "http://127.0.0.1:9/not-registered" });

    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ code: "RESTATE_DEPLOYMENT_NOT_FOUND", requestId: answer.requestId });
    expect((await admin.listDeployments()).map((deployment) => deployment.id).sort()).toEqual(before);
    expect(await dapi.auditRowsOf(answer.requestId)).toMatchObject([{ outcome: "failure", errorCode: "RESTATE_DEPLOYMENT_NOT_FOUND" }]);
  });

  it("refuses a URL with user:pass@, storing it redacted (host, path, query and fragment kept) and logging no password", async () => {
    const answer = await dapi.call("POST", `${RESTATE}/cleanup-stale-deployments`, {
      serviceUrl: "http://deployer:s3cr3t-pa55@127.0.0.1:9/v1/?tenant=a#frag",
    });

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: "VALIDATION_FAILED", data: { issues: [{ field: "serviceUrl" }] } });
    const [row] = await dapi.auditRowsOf(answer.requestId);
    expect(row?.arguments).toEqual({ serviceUrl: "http://REDACTED@127.0.0.1:9/v1/?tenant=a#frag" });
    expect(JSON.stringify(row)).not.toContain("s3cr3t-pa55");
    expect(JSON.stringify(answer.body)).not.toContain("s3cr3t-pa55");
    expect(dapi.logLines.join("\n")).not.toContain("s3cr3t-pa55");
  });
});
