/**
 * Only Restate may call the worker: the test stack's restate-server signs its requests (request
 * identity) and the worker, given the public key, refuses anything not signed by it.
 */
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { readFile } from "node:fs/promises";
import * as clients from "@restatedev/restate-sdk-clients";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { EngineCanaryApi } from "../../services/workflows/engine-canary/api.ts";
import { callEndpoint, signedHeaders } from "../helpers/endpoint-calls.ts";
import { createWorkerProcess, workerEnvironment, type WorkerProcess } from "../helpers/worker-process.ts";

const stack = inject("stack");
const DISCOVER = "/discover";

describe("request identity", () => {
  let worker: WorkerProcess;
  beforeAll(async () => {
    worker = createWorkerProcess(stack, await workerEnvironment(stack, inject("databaseUrl")), "identity-worker");
    await worker.start();
  });
  afterAll(async () => {
    await worker.stop();
  });

  it("is wired by the test stack: Restate signs, the worker holds its public key", () => {
    expect(stack.restateIdentity?.publicKey).toMatch(/^publickeyv1_/);
    expect(worker.env.RESTATE_IDENTITY_KEYS).toBe(stack.restateIdentity?.publicKey);
  });

  it("refuses an unsigned call to the worker with 401", async () => {
    expect(await callEndpoint(worker.endpointUrl, DISCOVER)).toBe(401);
  });

  it("refuses a call signed by another key with 401", async () => {
    const stranger = generateKeyPairSync("ed25519").privateKey;
    expect(await callEndpoint(worker.endpointUrl, DISCOVER, signedHeaders(stranger, DISCOVER))).toBe(401);
  });

  it("accepts a call signed with Restate's key", async () => {
    const restateKey = createPrivateKey(await readFile(stack.restateIdentity!.privateKeyFile, "utf8"));
    expect(await callEndpoint(worker.endpointUrl, DISCOVER, signedHeaders(restateKey, DISCOVER))).toBe(200);
  });

  it("runs workflows Restate invokes on the worker (signed by Restate)", async () => {
    const key = `identity-${crypto.randomUUID()}`;
    const canary = clients.connect({ url: stack.restateIngressUrl }).workflowClient<EngineCanaryApi>({ name: "EngineCanary" }, key);
    await canary.workflowSubmit({ steps: 1 });
    expect(await canary.workflowAttach()).toMatchObject({ runKey: key, steps: 1 });
  });
});
