/**
 * The DAPI process: its HTTP server listens first (liveness at once), then the database is opened
 * and migrated and the bootstrap operator key is stored; `/health/ready` turns 200 after that, and
 * the operator routes answer DAPI_NOT_READY until then.
 */
import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { Hono } from "hono";
import type { Config } from "../shared/config.ts";
import type { DatabaseHandle } from "../shared/db/client.ts";
import { describeDatabase, openMigratedDatabase } from "../shared/db/open-migrated-database.ts";
import { insertApiKeyWithPlaintext } from "../shared/db/repositories/api-keys.ts";
import { listen, type RunningHttpServer } from "../shared/http/listen.ts";
import { createReadiness } from "../shared/http/readiness.ts";
import { createLogger, type Logger } from "../shared/logger.ts";
import { createTelemetry } from "../shared/telemetry/telemetry.ts";
import { createDapiApp } from "./app.ts";
import { OPERATOR_PERMISSIONS } from "./auth/permissions.ts";
import type { DapiEnv, OperatorServices } from "./context.ts";
import { DapiError, toErrorEnvelope } from "./errors.ts";
import { REQUEST_ID_HEADER } from "./middleware/request-id.ts";
import { createOperatorServices } from "./operator-services.ts";

export const DAPI_STARTUP_STEPS = ["telemetry", "database", "bootstrap-key"] as const;

export type RunningDapi = { port: number; database: DatabaseHandle; stop(): Promise<void> };

export async function startDapi(config: Config, options?: { logger?: Logger }): Promise<RunningDapi> {
  const logger = options?.logger ?? createLogger({ service: "ddwf-dapi", level: config.LOG_LEVEL });
  const readiness = createReadiness(DAPI_STARTUP_STEPS);
  const telemetry = createTelemetry({ serviceName: "ddwf-dapi" });
  readiness.done("telemetry");
  const cleanups: (() => Promise<void>)[] = [() => telemetry.shutdown()];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => logger.warn("shutdown step failed", { error }));
  };
  let operator: OperatorServices | undefined;
  try {
    const app = createDapiApp({ readiness, renderMetrics: telemetry.renderMetrics, meter: telemetry.meter, logger, operator: () => operator });
    const server = await serveDapi(app, { port: config.DAPI_PORT, host: config.HTTP_HOST, logger });
    cleanups.push(() => server.close());
    logger.info("dapi listening", { port: server.port });

    const database = await openMigratedDatabase(config);
    cleanups.push(() => database.close());
    logger.info("database ready", describeDatabase(database));
    readiness.done("database");

    if (config.DAPI_BOOTSTRAP_API_KEY) {
      const stored = await insertApiKeyWithPlaintext(database.db, {
        key: config.DAPI_BOOTSTRAP_API_KEY,
        actorId: "bootstrap-operator",
        role: "operator",
        permissions: [...OPERATOR_PERMISSIONS],
      });
      logger.info("bootstrap operator key present", { keyId: stored.id, created: stored.created });
    }
    operator = createOperatorServices({
      db: database.db,
      restate: {
        adminUrl: config.RESTATE_ADMIN_URL,
        ingressUrl: config.RESTATE_INGRESS_URL,
        authToken: config.RESTATE_AUTH_TOKEN,
        nodeUrls: config.RESTATE_NODE_URLS,
      },
      doctorProbeTimeoutMs: config.DOCTOR_PROBE_TIMEOUT_MS,
      restateTimeoutMs: config.DAPI_RESTATE_TIMEOUT_MS,
      redeployAllow: config.DAPI_REDEPLOY_ALLOW,
      webhookSecretKeys: config.WEBHOOK_SECRET_KEYS,
      webhookAllowInsecureUrls: config.WEBHOOK_ALLOW_INSECURE_URLS,
    });
    readiness.done("bootstrap-key");
    logger.info("dapi ready", { port: server.port });
    return { port: server.port, database, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Serves the DAPI app. Requests the HTTP parser refuses before any route sees them (oversized
 * headers, malformed HTTP) are answered in the same error envelope, with a request id, instead of
 * Node's plain-text default.
 */
export function serveDapi(app: Hono<DapiEnv>, parameters: { port: number; host: string; logger: Logger }): Promise<RunningHttpServer> {
  // listen() only calls app.fetch; the typed variables of the DAPI's env do not matter to it.
  return listen(app as unknown as Hono, {
    port: parameters.port,
    host: parameters.host,
    onClientError: (error, socket) => answerClientError(error, socket, parameters.logger),
  });
}

function answerClientError(error: Error & { code?: string }, socket: Duplex, logger: Logger): void {
  if (error.code === "ECONNRESET" || !socket.writable) {
    socket.destroy();
    return;
  }
  const requestId = `req_${randomUUID()}`;
  const refusal =
    error.code === "HPE_HEADER_OVERFLOW"
      ? new DapiError("REQUEST_HEADERS_TOO_LARGE", "the request headers are larger than the server accepts")
      : new DapiError("MALFORMED_REQUEST", "the request is not valid HTTP/1.1");
  const { status, body } = toErrorEnvelope(refusal, requestId);
  const json = JSON.stringify(body);
  logger.info("request refused by the HTTP parser", { requestId, status, code: body.code, parserError: error.code ?? error.message });
  socket.end(
    [
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}`,
      "content-type: application/json",
      `content-length: ${Buffer.byteLength(json)}`,
      `${REQUEST_ID_HEADER.toLowerCase()}: ${requestId}`,
      "cache-control: no-store",
      "x-content-type-options: nosniff",
      "connection: close",
      "",
      json,
    ].join("\r\n"),
  );
}
