import { describe, expect, inject, it } from "vitest";

const stack = inject("stack");

/** Every admin route the RestateAdminClient calls, as the pinned server's OpenAPI names it. */
const ROUTES_USED: [method: string, path: string][] = [
  ["get", "/health"],
  ["get", "/version"],
  ["get", "/cluster-health"],
  ["get", "/deployments"],
  ["post", "/deployments"],
  ["get", "/deployments/{deployment}"],
  ["delete", "/deployments/{deployment}"],
  ["get", "/services"],
  ["post", "/query"],
  ["patch", "/invocations/{invocation_id}/kill"],
  ["patch", "/invocations/{invocation_id}/cancel"],
  ["patch", "/invocations/{invocation_id}/purge"],
  ["patch", "/invocations/{invocation_id}/resume"],
  ["post", "/services/{service}/state"],
];

describe("the Restate admin API of the pinned server", () => {
  it("offers every route the admin client calls", async () => {
    const document = (await (await fetch(`${stack.restateAdminUrl}/openapi`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const missing = ROUTES_USED.filter(([method, path]) => document.paths[path]?.[method] === undefined);
    expect(missing).toEqual([]);
  });

  it("accepts force and dry_run on deployment registration", async () => {
    const document = (await (await fetch(`${stack.restateAdminUrl}/openapi`)).json()) as {
      components: { schemas: Record<string, { oneOf?: { properties?: Record<string, unknown> }[] }> };
    };
    const http = document.components.schemas.RegisterDeploymentRequest?.oneOf?.[0]?.properties ?? {};
    expect(Object.keys(http)).toEqual(expect.arrayContaining(["uri", "force", "dry_run"]));
  });
});
