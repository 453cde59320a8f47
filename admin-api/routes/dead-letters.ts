/** Dead letters: list them (system:read) and replay one (system:operate). Both audited. */
import { Hono } from "hono";
import { z } from "zod";
import { DEAD_LETTER_KINDS, DEAD_LETTER_STATUSES } from "../../shared/db/schema/index.ts";
import type { DeadLetterRow } from "../../shared/db/repositories/dead-letters.ts";
import type { DapiEnv } from "../context.ts";
import type { ServicesSource } from "../middleware/services.ts";
import { defineOperation } from "../openapi/operation.ts";
import { replayDeadLetter, replayDeadLetterParams, replayDeadLetterRequest, replayDeadLetterResponse } from "../operator/replay-dead-letter.ts";
import { parseJsonBody, parseParams, parseQuery } from "../request-input.ts";
import { guard, relativePath } from "./guard.ts";

export const DEAD_LETTERS_PREFIX = "/api/v2/admin/operator/dead-letters";

const listQuery = z
  .object({
    kind: z.enum(DEAD_LETTER_KINDS).optional(),
    status: z.enum(DEAD_LETTER_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

const deadLetter = z.object({
  id: z.string(),
  kind: z.string(),
  referenceId: z.string().describe("The key of the workflow that gave up: a transaction id or a webhook delivery id"),
  causeCode: z.string(),
  causeMessage: z.string(),
  payload: z.record(z.string(), z.unknown()),
  status: z.enum(DEAD_LETTER_STATUSES),
  replayCount: z.number().int(),
  createdAt: z.string(),
  replayedAt: z.string().nullable(),
});

const listResponse = z.object({ items: z.array(deadLetter) });

export const deadLetterOperations = {
  list: defineOperation({
    operationId: "listDeadLetters",
    method: "get",
    path: DEAD_LETTERS_PREFIX,
    tag: "dead-letters",
    summary: "Dead letters, newest first, filtered by kind and status",
    permission: "system:read",
    audited: true,
    query: listQuery,
    response: listResponse,
    errors: [],
  }),
  replay: defineOperation({
    operationId: "replayDeadLetter",
    method: "post",
    path: `${DEAD_LETTERS_PREFIX}/:id/replay`,
    tag: "dead-letters",
    summary: "Recover the dead letter's workflow key, resubmit it, mark the letter replayed",
    description:
      "Kinds transaction and webhook-delivery. Refused like recover-stuck-workflow while the workflow is active or already succeeded, and with RESTATE_WORKFLOW_TIMERS_PENDING (409, Retry-After) while a finished run of the key still has a sleep that has not come due; the letter stays open then.",
    permission: "system:operate",
    audited: true,
    params: replayDeadLetterParams,
    body: replayDeadLetterRequest,
    response: replayDeadLetterResponse,
    errors: [
      "DEAD_LETTER_NOT_FOUND",
      "DEAD_LETTER_NOT_OPEN",
      "DEAD_LETTER_KIND_UNSUPPORTED",
      "RESTATE_WORKFLOW_RETRY_BLOCKED",
      "RESTATE_WORKFLOW_TIMERS_PENDING",
      "RESTATE_ADMIN_UNREACHABLE",
      "RESTATE_ADMIN_REQUEST_FAILED",
    ],
  }),
};

function present(row: DeadLetterRow): z.infer<typeof deadLetter> {
  return { ...row, createdAt: row.createdAt.toISOString(), replayedAt: row.replayedAt?.toISOString() ?? null };
}

export function createDeadLetterRoutes(source: ServicesSource | undefined): Hono<DapiEnv> {
  const routes = new Hono<DapiEnv>();
  routes.get(relativePath(deadLetterOperations.list, DEAD_LETTERS_PREFIX), guard(deadLetterOperations.list, source), async (c) => {
    const query = parseQuery(c, listQuery);
    const rows = await c.var.services.stores.deadLetters.list(query);
    return c.json({ items: rows.map(present) });
  });
  routes.post(relativePath(deadLetterOperations.replay, DEAD_LETTERS_PREFIX), guard(deadLetterOperations.replay, source), async (c) => {
    const { id } = parseParams(c, replayDeadLetterParams);
    await parseJsonBody(c, replayDeadLetterRequest);
    const { stores, admin, replays } = c.var.services;
    return c.json(await replayDeadLetter({ id, deadLetters: stores.deadLetters, admin, replays, logger: c.var.logger }));
  });
  return routes;
}
