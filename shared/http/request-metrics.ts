/**
 * Counts the HTTP requests a Hono application answered, as `dalp.ddwf.dapi.requests{method, route,
 * status}`. `route` is the matched route pattern (`/api/v2/admin/operator/workflows/:name/:key`),
 * never the raw path, so ids in URLs do not become series; requests no route matched are `unmatched`.
 */
import type { Meter } from "@opentelemetry/api";
import type { MiddlewareHandler } from "hono";

export function requestMetrics(meter: Meter): MiddlewareHandler {
  const requests = meter.createCounter("dalp.ddwf.dapi.requests", {
    description: "Requests the operator API answered, by method, matched route and status code",
  });
  return async (c, next) => {
    await next();
    const route = c.req.routePath;
    requests.add(1, {
      method: c.req.method,
      route: route === "*" || route === "/*" ? "unmatched" : route,
      status: String(c.res.status),
    });
  };
}
