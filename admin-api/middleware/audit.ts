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
import { safeText, sanitizeArguments } from "../redact.ts";
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
    const redaction = { secrets: [c.var.presentedApiKey] };
    const reason = c.req.header(REASON_HEADER)?.trim().slice(0, REASON_MAX_LENGTH) || null;
    const entry = await audit.start({
      actorId: principal.actorId,
      actorRole: principal.role,
      route: auditRoute(operation),
      arguments: sanitizeArguments(await attemptArguments(c, operation), redaction) as Record<string, unknown>,
      reason: reason === null ? null : safeText(reason, redaction),
      requestId: c.var.requestId,
      startedAt: new Date(),
    });

    // Whatever the handler does, thrown or answered, the row is finished.
    let thrown: { error: unknown } | undefined;
    try {
      await next();
    } catch (error) {
      thrown = { error };
    }
    const error = thrown ? thrown.error : c.error;
    const failure = error ? describeError(error, redaction) : null;
    try {
      await audit.finish(entry.id, {
        finishedAt: new Date(),
        outcome: failure ? "failure" : "success",
        errorCode: failure?.code ?? null,
        errorMessage: failure?.message ?? null,
      });
    } catch (finishError) {
      // The action already happened: answer it, and leave the loud trace in the log.
      c.var.logger.error("audit row could not be finished", { auditEntryId: entry.id, error: safeText(errorMessageOf(finishError), redaction) });
    }
    if (thrown) throw thrown.error;
  });
}

/**
 * What the handler reads, as sent (before validation): the path parameters, query and body of the
 * inputs the operation declares, nothing else. Fields of an object body are stored at the top level
 * (a field named like a path parameter is stored as `body.<name>`); a refused body is described.
 */
async function attemptArguments(c: Context<DapiEnv>, operation: Operation): Promise<Record<string, unknown>> {
  const collected: Record<string, unknown> = {};
  const put = (source: string, key: string, value: unknown) => {
    const name = Object.hasOwn(collected, key) ? `${source}.${key}` : key;
    Object.defineProperty(collected, name, { value, enumerable: true, writable: true, configurable: true });
  };
  if (operation.params) for (const [key, value] of Object.entries(c.req.param())) put("path", key, value);
  if (operation.query) for (const [key, value] of Object.entries(c.req.query())) put("query", key, value);
  if (operation.body) {
    const body = await readJsonBody(c);
    if (!body.ok) put("body", "body", body.stored);
    else if (body.value !== null && typeof body.value === "object" && !Array.isArray(body.value)) {
      for (const [key, value] of Object.entries(body.value)) put("body", key, value);
    } else put("body", "body", body.value);
  }
  return collected;
}
