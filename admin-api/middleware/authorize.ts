/**
 * Authorization: the authenticated key's permissions must include the operation's permission,
 * otherwise UNAUTHORIZED (403). Checked before the audit middleware, so a refused caller never
 * reaches the operator handler.
 */
import { createMiddleware } from "hono/factory";
import type { Permission } from "../auth/permissions.ts";
import type { DapiEnv } from "../context.ts";
import { DapiError } from "../errors.ts";

export function requirePermission(permission: Permission) {
  return createMiddleware<DapiEnv>(async (c, next) => {
    const principal = c.var.principal;
    if (!principal.permissions.includes(permission)) {
      c.var.logger.warn("operator request refused: missing permission", { actorId: principal.actorId, role: principal.role, permission, path: c.req.path });
      throw new DapiError("UNAUTHORIZED", `the API key of ${principal.actorId} (role ${principal.role}) lacks the ${permission} permission this route requires`, {
        data: { requiredPermission: permission },
      });
    }
    await next();
  });
}
