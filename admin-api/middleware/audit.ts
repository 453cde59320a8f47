/**
 * One operations audit row per attempt that reaches an operator handler (that is: authenticated and
 * authorized; validation failures count, since the operator layer received them). The row is written
 * before the handler runs — no row, no action — and finished afterwards with the outcome and, on
 * failure, the error code and message. Arguments are stored sanitized: user information in URLs
 * becomes REDACTED and secret-named fields are masked. The optional reason comes from the
 * `X-Operator-Reason` header.
 */
import { createMiddleware } from "hono/factory";
import type { Context } from "hono";
import { errorMessageOf } from "../../shared/errors.ts";
import type { DapiEnv } from "../context.ts";
import { describeError } from "../errors.ts";
import type { Operation } from "../openapi/operation.ts";
import { redactUrlUserInfo, sanitizeArguments } from "../redact.ts";
import { readJsonBody } from "../request-input.ts";

export const REASON_HEADER = "X-Operator-Reason";
const REASON_MAX_LENGTH = 500;

export function auditRoute(operation: Operation): string {
  return `${operation.method.toUpperCase()} ${operation.path}`;
}

export function auditAttempt(operation: Operation) {
  return createMiddleware<DapiEnv>(async (c, next) => {
    const { audit } = c.var.services.stores;
    const principal = c.var.principal;
    const reason = c.req.header(REASON_HEADER)?.trim().slice(0, REASON_MAX_LENGTH) || null;
    const entry = await audit.start({
      actorId: principal.actorId,
      actorRole: principal.role,
      route: auditRoute(operation),
      arguments: sanitizeArguments(await attemptArguments(c, operation)) as Record<string, unknown>,
      reason: reason === null ? null : redactUrlUserInfo(reason),
      requestId: c.var.requestId,
      startedAt: new Date(),
    });

    await next();

    const failure = c.error ? describeError(c.error) : null;
    try {
      await audit.finish(entry.id, {
        finishedAt: new Date(),
        outcome: failure ? "failure" : "success",
        errorCode: failure?.code ?? null,
        errorMessage: failure?.message ?? null,
      });
    } catch (error) {
      // The action already happened: answer it, and leave the loud trace in the log.
      c.var.logger.error("audit row could not be finished", { auditEntryId: entry.id, error: redactUrlUserInfo(errorMessageOf(error)) });
    }
  });
}

/** Path parameters, query and JSON body of the attempt, as sent (before validation). */
async function attemptArguments(c: Context<DapiEnv>, operation: Operation): Promise<Record<string, unknown>> {
  const collected: Record<string, unknown> = { ...c.req.param(), ...c.req.query() };
  if (operation.method === "post") {
    const body = await readJsonBody(c);
    if (!body.ok) collected.body = "(not valid JSON)";
    else if (body.value !== null && typeof body.value === "object" && !Array.isArray(body.value)) Object.assign(collected, body.value);
    else collected.body = body.value;
  }
  return collected;
}
