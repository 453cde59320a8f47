/**
 * Hands the operator services (database, admin client, …) to a request, or answers DAPI_NOT_READY
 * while the process is still starting: the HTTP server listens before the database is open.
 */
import { createMiddleware } from "hono/factory";
import type { DapiEnv, OperatorServices } from "../context.ts";
import { DapiError } from "../errors.ts";

export type ServicesSource = OperatorServices | (() => OperatorServices | undefined);

export function withServices(source: ServicesSource | undefined) {
  return createMiddleware<DapiEnv>(async (c, next) => {
    const services = typeof source === "function" ? source() : source;
    if (!services) throw new DapiError("DAPI_NOT_READY", "the DAPI is still starting (database and keys are not ready yet); retry shortly");
    c.set("services", services);
    await next();
  });
}
