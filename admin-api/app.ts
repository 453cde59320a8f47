/**
 * The DAPI's Hono application: health and metrics next to the operator routes. Routes receive
 * their dependencies through this factory; nothing is read from the environment here.
 *
 *   GET  /health/live, /health/ready, /metrics           ops (no key)
 *   GET  /api/v2/admin/openapi.json                      OpenAPI document (no key)
 *   POST /api/v2/admin/operator/restate/*                doctor, force-redeploy, cleanup-stale-deployments, recover-stuck-workflow
 *   GET  /api/v2/admin/operator/workflows/:name/:key     one workflow instance
 *   GET  /api/v2/admin/operator/dead-letters             dead letters;  POST …/:id/replay
 *   GET  /api/v2/admin/operator/approvals                transactions waiting for approval
 *   GET  /api/v2/admin/audit-log                         operations audit rows
 *   GET  /api/v2/admin/operator/transactions/:id         one transaction;  POST …/:id/cancel
 *   GET  /api/v2/admin/whoami                            the caller's role and the operations it may call
 *   GET  /console                                        the operator console (static page, no key needed to load it)
 *   …    /api/v2/admin/webhooks/subscriptions[/:id[/rotate-secret|/test]]   webhook subscriptions
 *
 * Every response carries X-Request-Id; every failure is answered by the one `onError` below.
 */
import type { Meter } from "@opentelemetry/api";
import { Hono } from "hono";
import { createOpsRoutes } from "../shared/http/ops-routes.ts";
import { requestMetrics } from "../shared/http/request-metrics.ts";
import type { Readiness } from "../shared/http/readiness.ts";
import { createLogger, type Logger } from "../shared/logger.ts";
import { redactingLogger, safeText } from "./redact.ts";
import type { DapiEnv } from "./context.ts";
import { DapiError, retryAfterOf, toErrorEnvelope } from "./errors.ts";
import { requestId } from "./middleware/request-id.ts";
import type { ServicesSource } from "./middleware/services.ts";
import type { Operation } from "./openapi/operation.ts";
import { APPROVALS_PREFIX, approvalOperations, createApprovalRoutes } from "./routes/approvals.ts";
import { AUDIT_LOG_PREFIX, auditLogOperations, createAuditLogRoutes } from "./routes/audit-log.ts";
import { CONSOLE_ROUTES, createConsoleRoutes } from "./routes/console.ts";
import { createDeadLetterRoutes, DEAD_LETTERS_PREFIX, deadLetterOperations } from "./routes/dead-letters.ts";
import { createOpenApiRoutes, openApiOperation } from "./routes/openapi.ts";
import { createRestateRoutes, RESTATE_OPERATOR_PREFIX, restateOperations } from "./routes/restate.ts";
import { createTransactionRoutes, TRANSACTIONS_PREFIX, transactionOperations } from "./routes/transactions.ts";
import { createWebhookRoutes, WEBHOOKS_PREFIX, webhookOperations } from "./routes/webhooks.ts";
import { createWhoamiRoutes, whoamiOperation } from "./routes/whoami.ts";
import { createWorkflowRoutes, WORKFLOWS_PREFIX, workflowOperations } from "./routes/workflows.ts";

export type DapiDependencies = {
  readiness: Readiness;
  renderMetrics: () => Promise<string>;
  /** When given, every answered request is counted in `dalp.ddwf.dapi.requests`. */
  meter?: Meter;
  /** Database, admin client and settings of the operator routes; a function while they are still starting. */
  operator?: ServicesSource;
  logger?: Logger;
  /** Version shown in the OpenAPI document. */
  version?: string;
};

export const DAPI_OPERATIONS: readonly Operation[] = [
  ...Object.values(restateOperations),
  ...Object.values(workflowOperations),
  ...Object.values(deadLetterOperations),
  ...Object.values(auditLogOperations),
  ...Object.values(transactionOperations),
  ...Object.values(approvalOperations),
  ...Object.values(webhookOperations),
  whoamiOperation,
];

/** Routes served outside the operations: the ops routes every process shares, and the console's files. */
const OPS_ROUTES: { method: string; path: string }[] = ["/health/live", "/health/ready", "/metrics", ...CONSOLE_ROUTES].map((path) => ({ method: "get", path }));

/** The methods a path is served with, for 405 answers: `:param` segments match any one segment. */
export function allowedMethods(path: string): string[] {
  const routes = [...DAPI_OPERATIONS, openApiOperation, ...OPS_ROUTES];
  const methods = routes
    .filter((route) => new RegExp(`^${route.path.replace(/:[A-Za-z0-9_]+/g, "[^/]+")}/?$`).test(path))
    .map((route) => route.method.toUpperCase());
  return [...new Set(methods)].sort();
}

export function createDapiApp(dependencies: DapiDependencies): Hono<DapiEnv> {
  const logger = redactingLogger(dependencies.logger ?? createLogger({ service: "ddwf-dapi" }));
  const app = new Hono<DapiEnv>();
  app.use("*", requestId(logger));
  app.use("*", async (c, next) => {
    try {
      await next();
    } catch (thrown) {
      // Hono hands only Error instances to onError; anything else would end as a bare 500.
      if (thrown instanceof Error) throw thrown;
      throw new Error(`non-Error thrown: ${typeof thrown}`, { cause: thrown });
    }
  });
  if (dependencies.meter) app.use("*", requestMetrics(dependencies.meter));
  app.route("/", createOpsRoutes({ service: "ddwf-dapi", readiness: dependencies.readiness, renderMetrics: dependencies.renderMetrics }));
  app.route("/", createOpenApiRoutes(DAPI_OPERATIONS, dependencies.version ?? "0.1.0"));
  app.route(RESTATE_OPERATOR_PREFIX, createRestateRoutes(dependencies.operator));
  app.route(WORKFLOWS_PREFIX, createWorkflowRoutes(dependencies.operator));
  app.route(DEAD_LETTERS_PREFIX, createDeadLetterRoutes(dependencies.operator));
  app.route(AUDIT_LOG_PREFIX, createAuditLogRoutes(dependencies.operator));
  app.route(TRANSACTIONS_PREFIX, createTransactionRoutes(dependencies.operator));
  app.route(APPROVALS_PREFIX, createApprovalRoutes(dependencies.operator));
  app.route(WEBHOOKS_PREFIX, createWebhookRoutes(dependencies.operator));
  app.route("/", createWhoamiRoutes(dependencies.operator, [...DAPI_OPERATIONS, openApiOperation]));
  app.route("/", createConsoleRoutes());

  app.notFound((c) => {
    const allow = allowedMethods(c.req.path);
    const error =
      allow.length > 0
        ? new DapiError("METHOD_NOT_ALLOWED", `${c.req.method} is not served at ${c.req.path}; use ${allow.join(" or ")}`, { data: { allow } })
        : new DapiError("ROUTE_NOT_FOUND", `no route ${c.req.method} ${c.req.path}`);
    const { status, body } = toErrorEnvelope(error, c.get("requestId") ?? "unknown");
    if (allow.length > 0) c.header("Allow", allow.join(", "));
    return c.json(body, status);
  });
  app.onError((error, c) => {
    const id = c.get("requestId") ?? "unknown";
    const redaction = { secrets: [c.get("presentedApiKey") ?? ""] };
    const { status, body } = toErrorEnvelope(error, id, redaction);
    const fields = { requestId: id, method: c.req.method, path: c.req.path, status, code: body.code };
    if (status >= 500) {
      // The envelope of an internal error says nothing; the log keeps the cause.
      const cause = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      logger.error("request failed", { ...fields, error: safeText(cause, redaction) });
    } else {
      logger.info("request refused", { ...fields, message: body.message });
    }
    const retryAfter = retryAfterOf(error);
    if (retryAfter) c.header("Retry-After", retryAfter);
    return c.json(body, status);
  });
  return app;
}
