import { describe, expect, it } from "vitest";
import { createOpsRoutes } from "../../shared/http/ops-routes.ts";
import { createReadiness } from "../../shared/http/readiness.ts";

describe("ops routes", () => {
  const build = () => {
    const readiness = createReadiness(["telemetry", "database", "registration"]);
    const app = createOpsRoutes({ service: "test", readiness, renderMetrics: async () => "# HELP x y\n" });
    return { readiness, app };
  };

  it("answers liveness before start-up completes", async () => {
    const { app } = build();
    expect((await app.request("/health/live")).status).toBe(200);
  });

  it("reports readiness 503 with the steps still pending", async () => {
    const { app, readiness } = build();
    readiness.done("telemetry");
    const response = await app.request("/health/ready");
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ status: "starting", pending: ["database", "registration"], done: ["telemetry"] });
  });

  it("reports ready once every step is done", async () => {
    const { app, readiness } = build();
    for (const step of ["telemetry", "database", "registration"]) readiness.done(step);
    expect((await app.request("/health/ready")).status).toBe(200);
  });

  it("reports a failed step with its error", async () => {
    const { app, readiness } = build();
    readiness.fail("registration", "admin unreachable");
    const body = await (await app.request("/health/ready")).json();
    expect(body).toMatchObject({ status: "failed", failed: [{ step: "registration", error: "admin unreachable" }] });
  });

  it("serves the Prometheus exposition as text", async () => {
    const { app } = build();
    const response = await app.request("/metrics");
    expect(response.headers.get("content-type")).toContain("text/plain");
    expect(await response.text()).toContain("# HELP");
  });
});
