/**
 * The DAPI process: its HTTP server listens first (liveness at once), then the database is opened
 * and migrated and the bootstrap operator key is stored; `/health/ready` turns 200 after that, and
 * the operator routes answer DAPI_NOT_READY until then.
 */
import type { Hono } from "hono";
import type { Config } from "../shared/config.ts";
import type { DatabaseHandle } from "../shared/db/client.ts";
import { openMigratedDatabase } from "../shared/db/open-migrated-database.ts";
import { insertApiKeyWithPlaintext } from "../shared/db/repositories/api-keys.ts";
import { listen } from "../shared/http/listen.ts";
import { createReadiness } from "../shared/http/readiness.ts";
import { createLogger, type Logger } from "../shared/logger.ts";
import { createTelemetry } from "../shared/telemetry/telemetry.ts";
import { createDapiApp } from "./app.ts";
import { OPERATOR_PERMISSIONS } from "./auth/permissions.ts";
import type { OperatorServices } from "./context.ts";
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
    // listen() only calls app.fetch; the typed variables of the DAPI's env do not matter to it.
    const server = await listen(app as unknown as Hono, { port: config.DAPI_PORT, host: config.HTTP_HOST });
    cleanups.push(() => server.close());
    logger.info("dapi listening", { port: server.port });

    const database = await openMigratedDatabase(config);
    cleanups.push(() => database.close());
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
    });
    readiness.done("bootstrap-key");
    logger.info("dapi ready", { port: server.port });
    return { port: server.port, database, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
