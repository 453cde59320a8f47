/**
 * Gives every request an id, answered in `X-Request-Id` on every response (errors and 404s included)
 * and attached to every log line of the request. A caller's own id is kept when it looks like one.
 * Every answer also says it is not to be cached and not to be sniffed into another content type.
 */
import { createMiddleware } from "hono/factory";
import type { Logger } from "../../shared/logger.ts";
import type { DapiEnv } from "../context.ts";

export const REQUEST_ID_HEADER = "X-Request-Id";
const ACCEPTED_INCOMING = /^[A-Za-z0-9._:-]{8,128}$/;

export function requestId(logger: Logger) {
  return createMiddleware<DapiEnv>(async (c, next) => {
    const incoming = c.req.header(REQUEST_ID_HEADER);
    const id = incoming && ACCEPTED_INCOMING.test(incoming) ? incoming : `req_${crypto.randomUUID()}`;
    c.set("requestId", id);
    c.set("logger", logger.child({ requestId: id }));
    await next();
    c.header(REQUEST_ID_HEADER, id);
    c.header("Cache-Control", "no-store");
    c.header("X-Content-Type-Options", "nosniff");
  });
}
