import * as clients from "@restatedev/restate-sdk-clients";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../../infra/local/free-port.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { countCanarySteps } from "../../shared/db/repositories/canary-steps.ts";
import { createRestateAdminClient } from "../../shared/restate/admin-client.ts";
import type { EngineCanaryApi } from "../../services/workflows/engine-canary/api.ts";
import { createWorkerProcess, workerEnvironment, type WorkerProcess } from "../helpers/worker-process.ts";
import { RESTATE, startDapiHarness, type DapiHarness } from "../helpers/dapi-harness.ts";

const stack = inject("stack");
const admin = createRestateAdminClient({ baseUrl: stack.restateAdminUrl });
const ingress = clients.connect({ url: stack.restateIngressUrl });
const ROUTE = `${RESTATE}/recover-stuck-workflow`;

const invocationsOf = (key: string) =>
  admin.query<{ id: string; status: string; completion_result?: string }>(
    `SELECT id, status, completion_result FROM sys_invocation WHERE target_service_name = 'EngineCanary' AND target_service_key = '${key}'`,
  );
const stateOf = (key: string) =>
  admin.query<{ key: string }>(`SELECT key FROM state WHERE service_name = 'EngineCanary' AND service_key = '${key}'`);

describe("recover-stuck-workflow", () => {
  let worker: WorkerProcess;
  let dapi: DapiHarness;
  beforeAll(async () => {
    worker = createWorkerProcess(stack, await workerEnvironment(stack, inject("databaseUrl")), "dapi-recover-worker");
    await worker.start();
    dapi = await startDapiHarness();
  });
  afterAll(async () => {
    await dapi.close();
    await worker.stop();
  });

  const newCanary = () => {
    const key = `recover-${crypto.randomUUID()}`;
    return { key, canary: ingress.workflowClient<EngineCanaryApi>({ name: "EngineCanary" }, key) };
  };

  it("purges a terminal-failed workflow and clears its state, so the same key runs again from the start", async () => {
    const { key, canary } = newCanary();
    await canary.workflowSubmit({ steps: 2, failAtStep: 1 });
    await expect(canary.workflowAttach()).rejects.toThrow(/canary failed at step 1/);
    expect(await stateOf(key)).not.toEqual([]);

    const answer = await dapi.call("POST", ROUTE, { serviceName: "EngineCanary", serviceKey: key });

    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ acknowledged: true });
    expect(await invocationsOf(key)).toEqual([]);
    await waitFor("the key's state to be cleared", async () => (await stateOf(key)).length === 0);

    await canary.workflowSubmit({ steps: 2 });
    expect(await canary.workflowAttach()).toMatchObject({ runKey: key, steps: 2 });
    // Step 1 ran in the failed run and again in the new one: the resubmission started blank.
    expect(await countCanarySteps(dapi.db, key)).toEqual([
      { step: 1, executions: 2 },
      { step: 2, executions: 1 },
    ]);
    expect(await dapi.auditRowsOf(answer.requestId)).toMatchObject([
      { outcome: "success", route: `POST ${ROUTE}`, arguments: { serviceName: "EngineCanary", serviceKey: key } },
    ]);
  });

  it("refuses a workflow waiting on a durable promise with 409 active-invocation and its invocation id, leaving it untouched", async () => {
    const { key, canary } = newCanary();
    const submitted = await canary.workflowSubmit({ steps: 2, holdAfterStep: 1 });
    await waitFor("the canary to hold after step 1", async () => (await canary.status()).waitingForRelease);
    const before = await invocationsOf(key);

    const answer = await dapi.call("POST", ROUTE, { serviceName: "EngineCanary", serviceKey: key });

    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({
      code: "RESTATE_WORKFLOW_RETRY_BLOCKED",
      data: { reason: "active-invocation", invocationIds: [submitted.invocationId] },
      requestId: answer.requestId,
    });
    expect((await invocationsOf(key)).map((row) => row.id)).toEqual(before.map((row) => row.id));
    expect(await canary.status()).toEqual({ completedSteps: 1, waitingForRelease: true });
    await canary.release();
    expect(await canary.workflowAttach()).toMatchObject({ steps: 2 });
    expect(await dapi.auditRowsOf(answer.requestId)).toMatchObject([{ outcome: "failure", errorCode: "RESTATE_WORKFLOW_RETRY_BLOCKED" }]);
  });

  it("refuses a completed workflow with 409 already-succeeded and keeps its result", async () => {
    const { key, canary } = newCanary();
    const submitted = await canary.workflowSubmit({ steps: 1 });
    await canary.workflowAttach();

    const answer = await dapi.call("POST", ROUTE, { serviceName: "EngineCanary", serviceKey: key });

    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({
      code: "RESTATE_WORKFLOW_RETRY_BLOCKED",
      data: { reason: "already-succeeded", invocationIds: [submitted.invocationId] },
    });
    expect(await canary.workflowOutput()).toMatchObject({ ready: true });
    expect(await dapi.auditRowsOf(answer.requestId)).toMatchObject([{ outcome: "failure", errorCode: "RESTATE_WORKFLOW_RETRY_BLOCKED" }]);
  });

  it("answers RESTATE_ADMIN_UNREACHABLE when the admin API cannot be reached", async () => {
    const unreachable = await startDapiHarness({ restate: { adminUrl: `http://127.0.0.1:${await freePort()}` } });
    try {
      const answer = await unreachable.call("POST", ROUTE, { serviceName: "EngineCanary", serviceKey: "any-key" });

      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ code: "RESTATE_ADMIN_UNREACHABLE" });
      expect(await unreachable.auditRowsOf(answer.requestId)).toMatchObject([{ outcome: "failure", errorCode: "RESTATE_ADMIN_UNREACHABLE" }]);
    } finally {
      await unreachable.close();
    }
  });

  it("shows the state and invocation history of one workflow instance, read-only", async () => {
    const { key, canary } = newCanary();
    const submitted = await canary.workflowSubmit({ steps: 2, failAtStep: 2 });
    await expect(canary.workflowAttach()).rejects.toThrow();

    const answer = await dapi.call<{
      state: { key: string; value: unknown }[];
      invocations: { id: string; handler: string; status: string; completionResult: string | null; failure: string | null; journal: { entryType: string; name: string | null }[] }[];
    }>("GET", `/api/v2/admin/operator/workflows/EngineCanary/${key}`);

    expect(answer.status).toBe(200);
    expect(answer.body.state).toEqual(expect.arrayContaining([{ key: "completedSteps", value: 2 }]));
    const run = answer.body.invocations.find((invocation) => invocation.id === submitted.invocationId);
    expect(run).toMatchObject({ handler: "run", status: "completed", completionResult: "failure", failure: expect.stringContaining("step 2") as unknown });
    expect(run?.journal.map((entry) => entry.name)).toEqual(expect.arrayContaining(["record-step-1", "record-step-2"]));
    expect(await invocationsOf(key)).toHaveLength(1);
  });
});
