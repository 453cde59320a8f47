/** Approvals: transactions waiting for people (or whose wait ended), for operators and viewers (system:read, audited). */
import { Hono } from "hono";
import { z } from "zod";
import { decodeApprovalCursor, encodeApprovalCursor, type ApprovalRow } from "../../shared/db/repositories/approvals.ts";
import { APPROVAL_STATES, transactionApprovalSchema } from "../../shared/signers/approval.ts";
import type { DapiEnv } from "../context.ts";
import { validationFailed } from "../errors.ts";
import type { ServicesSource } from "../middleware/services.ts";
import { defineOperation } from "../openapi/operation.ts";
import { parseQuery } from "../request-input.ts";
import { guard, relativePath } from "./guard.ts";

export const APPROVALS_PREFIX = "/api/v2/admin/operator/approvals";

const listQuery = z
  .object({
    status: z.enum(APPROVAL_STATES).default("pending").describe("pending: waiting now (phase awaiting-approval); the others: how the wait ended"),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(500).optional().describe("nextCursor of the previous page"),
  })
  .strict();

const approvalItem = z.object({
  transactionId: z.string(),
  organizationId: z.string(),
  chainId: z.number().int(),
  signerAddress: z.string(),
  target: z.string().nullable(),
  route: z.string().describe("The signer route of the executor selection"),
  phase: z.string(),
  /** When the transaction entered its current phase. */
  phaseChangedAt: z.string(),
  approval: transactionApprovalSchema.nullable().describe("What it waits for: the provider's status, or approvals given and needed; null before the route recorded it"),
});

const listResponse = z.object({ items: z.array(approvalItem), nextCursor: z.string().nullable() });

export const approvalOperations = {
  list: defineOperation({
    operationId: "listApprovals",
    method: "get",
    path: APPROVALS_PREFIX,
    tag: "approvals",
    summary: "Transactions waiting for approval (status=pending, the default) or whose approval ended, oldest first",
    permission: "system:read",
    audited: true,
    query: listQuery,
    response: listResponse,
    errors: [],
  }),
};

function present(row: ApprovalRow): z.infer<typeof approvalItem> {
  return {
    transactionId: row.id,
    organizationId: row.organizationId,
    chainId: row.chainId,
    signerAddress: row.signerAddress,
    target: row.target ?? null,
    route: typeof row.executor.route === "string" ? row.executor.route : "unknown",
    phase: row.phase,
    phaseChangedAt: row.phaseChangedAt.toISOString(),
    approval: row.approval ?? null,
  };
}

export function createApprovalRoutes(source: ServicesSource | undefined): Hono<DapiEnv> {
  const routes = new Hono<DapiEnv>();
  routes.get(relativePath(approvalOperations.list, APPROVALS_PREFIX), guard(approvalOperations.list, source), async (c) => {
    const query = parseQuery(c, listQuery);
    const after = query.cursor === undefined ? undefined : decodeApprovalCursor(query.cursor);
    if (query.cursor !== undefined && !after) throw validationFailed("cursor", "is not a cursor issued by this API");
    const page = await c.var.services.stores.approvals.list({ state: query.status, limit: query.limit, after });
    return c.json({ items: page.rows.map(present), nextCursor: page.nextCursor ? encodeApprovalCursor(page.nextCursor) : null });
  });
  return routes;
}
