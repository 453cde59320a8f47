/**
 * The DAPI app wired to the real stack (restate-server, shared database) and called in-process with
 * `app.request()`. Its log lines are captured so tests can check what the DAPI logged. Keys are
 * created per harness, so each test file's audit rows are its own.
 */
import { eq } from "drizzle-orm";
import { inject } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { connectDatabase } from "../../shared/db/client.ts";
import { createApiKey } from "../../shared/db/repositories/api-keys.ts";
import { operationsAuditLog } from "../../shared/db/schema/index.ts";
import { createReadiness } from "../../shared/http/readiness.ts";
import { createLogger } from "../../shared/logger.ts";
import { createDapiApp } from "../../admin-api/app.ts";
import { OPERATOR_PERMISSIONS, ROLE_PERMISSIONS } from "../../admin-api/auth/permissions.ts";
import type { RestateEndpoints } from "../../admin-api/context.ts";
import { createOperatorServices } from "../../admin-api/operator-services.ts";
import { testWebhookKeyRing } from "./webhook-keys.ts";

export type DapiAnswer<Body = Record<string, unknown>> = { status: number; body: Body; requestId: string | null; headers: Headers };

export type DapiHarnessOptions = {
  restate?: Partial<RestateEndpoints>;
  probeTimeoutMs?: number;
  /** DAPI_RESTATE_TIMEOUT_MS */
  restateTimeoutMs?: number;
  /** DAPI_REDEPLOY_ALLOW */
  redeployAllow?: string[];
  /** WEBHOOK_ALLOW_INSECURE_URLS; true unless told otherwise (the test receivers are http on loopback). */
  webhookAllowInsecureUrls?: boolean;
  /** Leave WEBHOOK_SECRET_KEYS unset. */
  withoutWebhookKeys?: boolean;
};

export async function startDapiHarness(options?: DapiHarnessOptions) {
  const stack = inject("stack");
  const database = connectDatabase({ url: inject("databaseUrl"), embedded: true, poolSize: 2 });
  const logLines: string[] = [];
  const logger = createLogger({ service: "ddwf-dapi", level: "debug", sink: (line) => logLines.push(line) });
  const restate: RestateEndpoints = { adminUrl: stack.restateAdminUrl, ingressUrl: stack.restateIngressUrl, ...options?.restate };
  const services = createOperatorServices({
    db: database.db,
    restate,
    doctorProbeTimeoutMs: options?.probeTimeoutMs ?? 3_000,
    ...(options?.restateTimeoutMs === undefined ? {} : { restateTimeoutMs: options.restateTimeoutMs }),
    ...(options?.redeployAllow === undefined ? {} : { redeployAllow: options.redeployAllow }),
    webhookSecretKeys: options?.withoutWebhookKeys ? undefined : testWebhookKeyRing,
    webhookAllowInsecureUrls: options?.webhookAllowInsecureUrls ?? true,
  });
  const app = createDapiApp({ readiness: createReadiness([]), renderMetrics: async () => "", logger, operator: services });

  const suffix = crypto.randomUUID().slice(0, 8);
  const operatorActor = `test-operator-${suffix}`;
  const viewerActor = `test-viewer-${suffix}`;
  const operator = {
    actorId: operatorActor,
    ...(await createApiKey(database.db, { actorId: operatorActor, role: "operator", permissions: [...OPERATOR_PERMISSIONS] })),
  };
  const viewer = {
    actorId: viewerActor,
    ...(await createApiKey(database.db, { actorId: viewerActor, role: "viewer", permissions: [...ROLE_PERMISSIONS.viewer] })),
  };

  /** Calls the DAPI; the operator key is sent unless `key` says otherwise (null: no header). */
  const call = async <Body = Record<string, unknown>>(
    method: "GET" | "POST" | "PATCH" | "DELETE",
    path: string,
    body?: unknown,
    options?: { key?: string | null; rawBody?: string; headers?: Record<string, string> },
  ): Promise<DapiAnswer<Body>> => {
    const key = options?.key === undefined ? operator.key : options.key;
    const headers: Record<string, string> = { "content-type": "application/json", ...options?.headers };
    if (key !== null) headers["x-api-key"] = key;
    const response = await app.request(path, {
      method,
      headers,
      ...(method === "POST" || method === "PATCH" ? { body: options?.rawBody ?? JSON.stringify(body ?? {}) } : {}),
    });
    return { status: response.status, body: (await response.json()) as Body, requestId: response.headers.get("x-request-id"), headers: response.headers };
  };

  const auditRowsOf = (requestId: string | null) =>
    requestId ? database.db.select().from(operationsAuditLog).where(eq(operationsAuditLog.requestId, requestId)) : Promise.resolve([]);

  return {
    stack,
    db: database.db,
    app,
    logLines,
    keys: { operator, viewer },
    call,
    auditRowsOf,
    close: () => database.close(),
  };
}

export type DapiHarness = Awaited<ReturnType<typeof startDapiHarness>>;

export const RESTATE = "/api/v2/admin/operator/restate";

/**
 * Repeats a recovery call (recover-stuck-workflow, a dead-letter replay) while it answers
 * RESTATE_WORKFLOW_TIMERS_PENDING, as an operator who follows Retry-After does; returns the first
 * other answer. A killed run's sleeps come due within its longest sleep.
 */
export async function untilTimersQuiet<Body = Record<string, unknown>>(call: () => Promise<DapiAnswer<Body>>, options?: { timeoutMs?: number }): Promise<DapiAnswer<Body>> {
  return waitFor(
    "the killed run's sleeps to come due",
    async () => {
      const answer = await call();
      const code = (answer.body as { code?: unknown } | null)?.code;
      return answer.status === 409 && code === "RESTATE_WORKFLOW_TIMERS_PENDING" ? undefined : answer;
    },
    { timeoutMs: options?.timeoutMs ?? 60_000, intervalMs: 1_000 },
  );
}
