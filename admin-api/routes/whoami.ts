/**
 * Who the caller is: the actor and role of the presented key, its permissions, and the operations
 * those permissions allow. The console shows or hides its write buttons from this answer instead of
 * guessing from the role's name. Needs system:read (every role has it); not audited, since it
 * changes nothing and names only the caller.
 */
import { Hono } from "hono";
import { z } from "zod";
import { PERMISSIONS } from "../auth/permissions.ts";
import type { DapiEnv } from "../context.ts";
import type { ServicesSource } from "../middleware/services.ts";
import { defineOperation, type Operation } from "../openapi/operation.ts";
import { guard } from "./guard.ts";

export const WHOAMI_PATH = "/api/v2/admin/whoami";

const whoamiResponse = z.object({
  actorId: z.string(),
  role: z.string().describe("The role stored with the key, e.g. operator or viewer"),
  permissions: z.array(z.enum(PERMISSIONS)),
  operations: z.array(z.string()).describe("operationId of every route of this DAPI the key may call (see the OpenAPI document)"),
});

export const whoamiOperation = defineOperation({
  operationId: "whoami",
  method: "get",
  path: WHOAMI_PATH,
  tag: "meta",
  summary: "The caller's actor, role, permissions and the operations they allow",
  permission: "system:read",
  audited: false,
  response: whoamiResponse,
  errors: [],
});

/** `operations`: every operation of the DAPI, whoami included, to say which the caller may use. */
export function createWhoamiRoutes(source: ServicesSource | undefined, operations: readonly Operation[]): Hono<DapiEnv> {
  const routes = new Hono<DapiEnv>();
  routes.get(WHOAMI_PATH, guard(whoamiOperation, source), (c) => {
    const { actorId, role, permissions } = c.var.principal;
    const allowed = operations.filter((operation) => operation.permission === null || permissions.includes(operation.permission));
    return c.json({ actorId, role, permissions: [...permissions], operations: allowed.map((operation) => operation.operationId) });
  });
  return routes;
}
