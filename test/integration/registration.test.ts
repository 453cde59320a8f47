import * as http2 from "node:http2";
import * as restate from "@restatedev/restate-sdk";
import { afterEach, describe, expect, inject, it } from "vitest";
import { freePort } from "../../infra/local/free-port.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { createLogger } from "../../shared/logger.ts";
import { createRestateAdminClient, sameDeploymentUri } from "../../shared/restate/admin-client.ts";
import { registerEndpoint } from "../../services/registration/register-endpoint.ts";

const stack = inject("stack");
const admin = createRestateAdminClient({ baseUrl: stack.restateAdminUrl });
const logger = createLogger({ service: "test", level: "error" });

/** A free port no earlier test registered a deployment on (ports are reused between files). */
async function unregisteredPort(): Promise<number> {
  const registered = (await admin.listDeployments()).map((d) => d.uri);
  for (;;) {
    const port = await freePort();
    if (!registered.some((uri) => sameDeploymentUri(uri, `http://127.0.0.1:${port}`))) return port;
  }
}

/** A throw-away endpoint whose services the test chooses. */
async function serveEndpoint(port: number, services: Parameters<typeof restate.createEndpointHandler>[0]["services"]) {
  const server = http2.createServer(restate.createEndpointHandler({ services }));
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const probeV1 = (name: string) =>
  restate.service({ name, handlers: { ping: async (_ctx: restate.Context) => "pong" } });
const probeV2 = (name: string) =>
  restate.service({
    name,
    handlers: { ping: async (_ctx: restate.Context) => "pong", echo: async (_ctx: restate.Context, text: string) => text },
  });

describe("endpoint registration", () => {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const endpoint of open.splice(0)) await endpoint.close();
  });

  it("registers a new endpoint, then leaves an unchanged one at its revision", async () => {
    const port = await unregisteredPort();
    const name = `Probe${port}`;
    open.push(await serveEndpoint(port, [probeV1(name)]));
    const uri = `http://127.0.0.1:${port}`;
    const first = await registerEndpoint({ admin, uri, timeoutMs: 10_000, logger });
    const second = await registerEndpoint({ admin, uri, timeoutMs: 10_000, logger });
    expect(first.outcome).toBe("registered");
    expect(second).toMatchObject({ outcome: "unchanged", deploymentId: first.deploymentId });
    const deployment = (await admin.listDeployments()).find((d) => sameDeploymentUri(d.uri, uri));
    expect(deployment?.services).toEqual([{ name, revision: 1 }]);
  });

  it("forces re-registration when the endpoint's handlers changed", async () => {
    const port = await unregisteredPort();
    const name = `Probe${port}`;
    const uri = `http://127.0.0.1:${port}`;
    const v1 = await serveEndpoint(port, [probeV1(name)]);
    await registerEndpoint({ admin, uri, timeoutMs: 10_000, logger });
    await v1.close();
    open.push(await serveEndpoint(port, [probeV2(name)]));

    const result = await registerEndpoint({ admin, uri, timeoutMs: 10_000, logger });

    expect(result.outcome).toBe("updated");
    const handlers = (await admin.getDeployment(result.deploymentId)).services.find((s) => s.name === name)?.handlers.map((h) => h.name);
    expect(handlers?.sort()).toEqual(["echo", "ping"]);
  });

  it("keeps retrying while the endpoint is not reachable yet, then registers", async () => {
    const port = await unregisteredPort();
    const uri = `http://127.0.0.1:${port}`;
    let failed = 0;
    const registering = registerEndpoint({ admin, uri, timeoutMs: 30_000, logger, onAttempt: (outcome) => void (outcome === "failed" && failed++) });
    await waitFor("a first registration attempt to fail", async () => failed > 0);
    open.push(await serveEndpoint(port, [probeV1(`Probe${port}`)]));
    expect((await registering).outcome).toBe("registered");
  });

  it("gives up after its timeout when the admin API never answers", async () => {
    const closed = createRestateAdminClient({ baseUrl: `http://127.0.0.1:${await freePort()}` });
    await expect(registerEndpoint({ admin: closed, uri: "http://127.0.0.1:1", timeoutMs: 800, logger })).rejects.toMatchObject({
      code: "RESTATE_ADMIN_UNREACHABLE",
    });
  });
});
