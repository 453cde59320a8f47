/**
 * The middleware chain in front of an operation's handler, in this order:
 * services → authenticate (401) → requirePermission (403) → audit (one row per attempt).
 * Only attempts that get past authorization reach the audit middleware and the handler.
 */
import { every } from "hono/combine";
import type { MiddlewareHandler } from "hono";
import type { DapiEnv } from "../context.ts";
import { auditAttempt } from "../middleware/audit.ts";
import { authenticate } from "../middleware/authenticate.ts";
import { requirePermission } from "../middleware/authorize.ts";
import { withServices, type ServicesSource } from "../middleware/services.ts";
import type { Operation } from "../openapi/operation.ts";

export function guard(operation: Operation, source: ServicesSource | undefined): MiddlewareHandler<DapiEnv> {
  const chain: MiddlewareHandler<DapiEnv>[] = [withServices(source)];
  if (operation.permission) chain.push(authenticate(), requirePermission(operation.permission));
  if (operation.audited) chain.push(auditAttempt(operation));
  return every(...chain) as MiddlewareHandler<DapiEnv>;
}

/** The operation's path below the prefix its route group is mounted at. */
export function relativePath(operation: Operation, prefix: string): string {
  if (!operation.path.startsWith(prefix)) throw new Error(`${operation.path} is not below ${prefix}`);
  return operation.path.slice(prefix.length) || "/";
}
