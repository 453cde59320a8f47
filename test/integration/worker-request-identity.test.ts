/**
 * Only Restate may call the worker: the test stack's restate-server signs its requests (request
 * identity) and the worker, given the public key, refuses anything not signed by it.
 */
import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { connect } from "node:http2";
import * as clients from "@restatedev/restate-sdk-clients";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { identityPublicKey } from "../../shared/restate/request-identity.ts";
import type { EngineCanaryApi } from "../../services/workflows/engine-canary/api.ts";
import { createWorkerProcess, workerEnvironment, type WorkerProcess } from "../helpers/worker-process.ts";

const stack = inject("stack");
const DISCOVER = "/discover";

/** A request-identity JWT as restate-server makes one: EdDSA, kid = public key, aud = the path. */
function identityJwt(key: KeyObject, path: string): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${encode({ typ: "JWT", alg: "EdDSA", kid: identityPublicKey(key) })}.${encode({ aud: path, iat: now, nbf: now - 60, exp: now + 60 })}`;
  return `${unsigned}.${sign(null, Buffer.from(unsigned), key).toString("base64url")}`;
}

/** Calls the worker's HTTP/2 endpoint directly, as something other than Restate would. */
function callEndpoint(url: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = connect(url);
    session.on("error", reject);
    const request = session.request({ ":method": "GET", ":path": path, accept: "application/vnd.restate.endpointmanifest.v4+json", ...headers });
    request.on("response", (response) => {
      resolve(Number(response[":status"]));
      request.close();
      session.close();
    });
    request.on("error", reject);
    request.end();
  });
}

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
    const headers = { "x-restate-signature-scheme": "v1", "x-restate-jwt-v1": identityJwt(stranger, DISCOVER) };
    expect(await callEndpoint(worker.endpointUrl, DISCOVER, headers)).toBe(401);
  });

  it("accepts a call signed with Restate's key", async () => {
    const restateKey = createPrivateKey(await readFile(stack.restateIdentity!.privateKeyFile, "utf8"));
    const headers = { "x-restate-signature-scheme": "v1", "x-restate-jwt-v1": identityJwt(restateKey, DISCOVER) };
    expect(await callEndpoint(worker.endpointUrl, DISCOVER, headers)).toBe(200);
  });

  it("runs workflows Restate invokes on the worker (signed by Restate)", async () => {
    const key = `identity-${crypto.randomUUID()}`;
    const canary = clients.connect({ url: stack.restateIngressUrl }).workflowClient<EngineCanaryApi>({ name: "EngineCanary" }, key);
    await canary.workflowSubmit({ steps: 1 });
    expect(await canary.workflowAttach()).toMatchObject({ runKey: key, steps: 1 });
  });
});
