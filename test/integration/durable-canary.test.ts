import * as clients from "@restatedev/restate-sdk-clients";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { connectDatabase } from "../../shared/db/client.ts";
import { countCanarySteps } from "../../shared/db/repositories/canary-steps.ts";
import type { EngineCanaryApi } from "../../services/workflows/engine-canary/api.ts";
import { createWorkerProcess, workerEnvironment, type WorkerProcess } from "../helpers/worker-process.ts";

const stack = inject("stack");
const databaseUrl = inject("databaseUrl");

describe("a workflow invoked through ingress", () => {
  let worker: WorkerProcess;
  const database = connectDatabase({ url: databaseUrl, embedded: true, poolSize: 2 });
  const ingress = clients.connect({ url: stack.restateIngressUrl });

  beforeAll(async () => {
    worker = createWorkerProcess(stack, await workerEnvironment(stack, databaseUrl), "canary-worker");
    await worker.start();
  });
  afterAll(async () => {
    await worker.stop();
    await database.close();
  });

  it("runs its journaled steps once and answers", async () => {
    const key = `canary-${crypto.randomUUID()}`;
    const canary = ingress.workflowClient<EngineCanaryApi>({ name: "EngineCanary" }, key);
    await canary.workflowSubmit({ steps: 3 });
    const result = await canary.workflowAttach();
    expect(result).toMatchObject({ runKey: key, steps: 3 });
    expect(await countCanarySteps(database.db, key)).toEqual([
      { step: 1, executions: 1 },
      { step: 2, executions: 1 },
      { step: 3, executions: 1 },
    ]);
  });

  it("survives a SIGKILL of the worker between two steps without repeating the completed step", async () => {
    const key = `canary-${crypto.randomUUID()}`;
    const canary = ingress.workflowClient<EngineCanaryApi>({ name: "EngineCanary" }, key);
    await canary.workflowSubmit({ steps: 3, holdAfterStep: 1 });
    const status = ingress.workflowClient<EngineCanaryApi>({ name: "EngineCanary" }, key);
    await waitFor("step 1 to complete and the workflow to wait", async () => (await status.status()).waitingForRelease);

    await worker.crash();
    await worker.start();
    await status.release();

    const result = await canary.workflowAttach();
    expect(result.steps).toBe(3);
    expect(await countCanarySteps(database.db, key)).toEqual([
      { step: 1, executions: 1 },
      { step: 2, executions: 1 },
      { step: 3, executions: 1 },
    ]);
  });

  it("submitting the same workflow key twice attaches to the one execution", async () => {
    const key = `canary-${crypto.randomUUID()}`;
    const canary = ingress.workflowClient<EngineCanaryApi>({ name: "EngineCanary" }, key);
    const [first, second] = await Promise.all([canary.workflowSubmit({ steps: 2 }), canary.workflowSubmit({ steps: 2 })]);
    expect(second.invocationId).toBe(first.invocationId);
    await canary.workflowAttach();
    expect(await countCanarySteps(database.db, key)).toEqual([
      { step: 1, executions: 1 },
      { step: 2, executions: 1 },
    ]);
  });
});
