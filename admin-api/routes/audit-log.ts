/**
 * The operations audit log, newest first, with cursor paging and filters. Needs system:operate.
 * Reading the log is not itself audited (it changes nothing and would only fill the log with reads of it).
 */
import { Hono } from "hono";
import { z } from "zod";
import { decodeAuditCursor, encodeAuditCursor, type AuditEntryRow } from "../../shared/db/repositories/audit-log.ts";
import { AUDIT_OUTCOMES } from "../../shared/db/schema/index.ts";
import type { DapiEnv } from "../context.ts";
import { validationFailed } from "../errors.ts";
import type { ServicesSource } from "../middleware/services.ts";
import { defineOperation } from "../openapi/operation.ts";
import { parseQuery } from "../request-input.ts";
import { guard, relativePath } from "./guard.ts";

export const AUDIT_LOG_PREFIX = "/api/v2/admin/audit-log";

/** Audit rows start no earlier than 1970 and no later than 9999: anything outside is a mistake, and PostgreSQL or JavaScript dates would fail on it. */
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const timestamp = z.iso
  .datetime({ offset: true, error: "must be an ISO 8601 timestamp" })
  .refine((value) => {
    const at = Date.parse(value);
    // Text that is no timestamp at all is reported by the format check alone.
    return Number.isNaN(at) || (at >= EARLIEST && at <= LATEST);
  }, "must be between 1970-01-01 and 9999-12-31");
/** Filter text: no control characters (PostgreSQL cannot compare a NUL, and no route or actor has one). */
const filterText = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[^\u0000-\u001f\u007f]*$/, "must not contain control characters");

const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(500).optional().describe("nextCursor of the previous page"),
    route: filterText(300).optional().describe('Exact route, e.g. "POST /api/v2/admin/operator/restate/doctor"'),
    actorId: filterText(200).optional(),
    outcome: z.enum(AUDIT_OUTCOMES).optional(),
    from: timestamp.optional().describe("Started at or after"),
    to: timestamp.optional().describe("Started at or before"),
  })
  .strict();

const auditEntry = z.object({
  id: z.string(),
  requestId: z.string(),
  actorId: z.string(),
  actorRole: z.string().describe("Role of the actor when the request was made"),
  route: z.string(),
  arguments: z.record(z.string(), z.unknown()).describe("Request arguments, sanitized"),
  reason: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable().describe("null while the attempt runs (or if the process died during it)"),
  outcome: z.enum(AUDIT_OUTCOMES).nullable(),
  errorCode: z.string().nullable(),
  errorMessage: z.string().nullable(),
});

const listResponse = z.object({ items: z.array(auditEntry), nextCursor: z.string().nullable() });

export const auditLogOperations = {
  list: defineOperation({
    operationId: "listAuditEntries",
    method: "get",
    path: AUDIT_LOG_PREFIX,
    tag: "audit",
    summary: "Operations audit rows, newest first",
    permission: "system:operate",
    audited: false,
    query: listQuery,
    response: listResponse,
    errors: [],
  }),
};

function present(row: AuditEntryRow): z.infer<typeof auditEntry> {
  return {
    ...row,
    outcome: row.outcome ?? null,
    startedAt: row.startedAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

export function createAuditLogRoutes(source: ServicesSource | undefined): Hono<DapiEnv> {
  const routes = new Hono<DapiEnv>();
  routes.get(relativePath(auditLogOperations.list, AUDIT_LOG_PREFIX), guard(auditLogOperations.list, source), async (c) => {
    const query = parseQuery(c, listQuery);
    const before = query.cursor === undefined ? undefined : decodeAuditCursor(query.cursor);
    if (query.cursor !== undefined && !before) throw validationFailed("cursor", "is not a cursor issued by this API");
    const page = await c.var.services.stores.audit.list({
      limit: query.limit,
      before,
      route: query.route,
      actorId: query.actorId,
      outcome: query.outcome,
      from: query.from === undefined ? undefined : new Date(query.from),
      to: query.to === undefined ? undefined : new Date(query.to),
    });
    return c.json({ items: page.entries.map(present), nextCursor: page.nextCursor ? encodeAuditCursor(page.nextCursor) : null });
  });
  return routes;
}
