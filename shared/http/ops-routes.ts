/**
 * Health and metrics routes shared by the worker's ops server and the DAPI:
 * `/health/live` answers as soon as the process listens; `/health/ready` answers 200 once start-up
 * is complete and 503 with what is still pending before; `/metrics` is the Prometheus exposition;
 * `/info`, where given, says where the process keeps things (its database).
 */
import { Hono } from "hono";
import type { Readiness } from "./readiness.ts";

export function createOpsRoutes(parameters: {
  service: string;
  readiness: Readiness;
  renderMetrics: () => Promise<string>;
  /** What `/info` shows about the running process (e.g. where its embedded database is); read at each request. */
  info?: () => Record<string, unknown>;
}): Hono {
  const app = new Hono();
  if (parameters.info) {
    const info = parameters.info;
    app.get("/info", (c) => c.json({ service: parameters.service, ...info() }));
  }
  app.get("/health/live", (c) => c.json({ status: "live", service: parameters.service }));
  app.get("/health/ready", (c) => {
    const snapshot = parameters.readiness.snapshot();
    const status = snapshot.ready ? "ready" : snapshot.failed.length > 0 ? "failed" : "starting";
    return c.json({ status, service: parameters.service, ...snapshot }, snapshot.ready ? 200 : 503);
  });
  app.get("/metrics", async (c) => {
    const body = await parameters.renderMetrics();
    return c.body(body, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });
  return app;
}
