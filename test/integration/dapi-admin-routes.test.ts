import { describe, expect, inject, it } from "vitest";

const stack = inject("stack");

type OpenApi = { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>> };

/** Every Restate admin route the DAPI calls, as the pinned server's own OpenAPI document names it. */
const DAPI_ADMIN_ROUTES: [method: string, path: string][] = [
  ["get", "/version"], // doctor: admin probe
  ["get", "/deployments"], // doctor, cleanup
  ["post", "/deployments"], // force-redeploy
  ["delete", "/deployments/{deployment}"], // cleanup
  ["get", "/services"], // doctor
  ["post", "/query"], // doctor, cleanup (pinned invocations), recover, inspection
  ["patch", "/invocations/{invocation_id}/kill"], // recover
  ["patch", "/invocations/{invocation_id}/purge"], // recover
  ["post", "/services/{service}/state"], // recover: clear the key's state
];

describe("the admin routes the DAPI relies on", () => {
  it("all exist on the pinned restate-server", async () => {
    const document = (await (await fetch(`${stack.restateAdminUrl}/openapi`)).json()) as OpenApi;
    expect(DAPI_ADMIN_ROUTES.filter(([method, path]) => document.paths[path]?.[method] === undefined)).toEqual([]);
  });

  it("deleting a deployment takes the force query parameter", async () => {
    const document = (await (await fetch(`${stack.restateAdminUrl}/openapi`)).json()) as OpenApi;
    const parameters = document.paths["/deployments/{deployment}"]?.delete?.parameters ?? [];
    expect(parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: "force", in: "query" })]));
  });

  it("the ingress answers the health route doctor probes", async () => {
    expect((await fetch(`${stack.restateIngressUrl}/restate/health`)).status).toBe(200);
  });
});
