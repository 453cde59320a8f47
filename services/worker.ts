/**
 * The worker process: ops server first (so liveness answers at once), then telemetry, database and
 * migrations, the Restate endpoint, and registration. `/health/ready` turns 200 when all are done.
 */
import type { Config } from "../shared/config.ts";
import type { DatabaseHandle } from "../shared/db/client.ts";
import { describeDatabase, openMigratedDatabase } from "../shared/db/open-migrated-database.ts";
import { createOpsRoutes } from "../shared/http/ops-routes.ts";
import { listen, type RunningHttpServer } from "../shared/http/listen.ts";
import { createReadiness } from "../shared/http/readiness.ts";
import { createLogger, type Logger } from "../shared/logger.ts";
import { createRestateAdminClient } from "../shared/restate/admin-client.ts";
import { createTelemetry } from "../shared/telemetry/telemetry.ts";
import { createWorkerMetrics } from "../shared/telemetry/worker-metrics.ts";
import { registerScrapeTimeGauges } from "../shared/telemetry/scrape-time-gauges.ts";
import { createChainAccess, createChainRegistry } from "../shared/evm/chain-access.ts";
import { createChainHeadIndexerSource, createHttpIndexerSource } from "../shared/evm/indexer-source.ts";
import { createSignerRegistry } from "../shared/signers/signer-registry.ts";
import { createCustodyProvider } from "../shared/signers/custody/create-custody-provider.ts";
import { openSignOnlySigner } from "../shared/signers/hsm/open-sign-only-signer.ts";
import { createBundlerAccess } from "../shared/evm/erc4337/bundler.ts";
import { createEngineMetrics } from "../shared/telemetry/engine-metrics.ts";
import { createWebhookSecretBox } from "../shared/webhooks/secret-box.ts";
import { createWebhookDispatcher } from "../shared/webhooks/target-policy.ts";
import type { Hex } from "viem";
import { listenEndpoint, type RunningEndpoint } from "./endpoint.ts";
import { registerEndpoint } from "./registration/register-endpoint.ts";
import { startBackgroundJobs } from "./bootstrap/start-background-jobs.ts";

export const WORKER_STARTUP_STEPS = ["telemetry", "database", "endpoint", "registration", "background-jobs"] as const;

export type RunningWorker = {
  opsPort: number;
  endpointPort: number;
  deploymentId: string | null;
  database: DatabaseHandle;
  stop(): Promise<void>;
};

export async function startWorker(config: Config, options?: { logger?: Logger }): Promise<RunningWorker> {
  const startedAt = performance.now();
  const logger = options?.logger ?? createLogger({ service: "ddwf-worker", level: config.LOG_LEVEL });
  const readiness = createReadiness(WORKER_STARTUP_STEPS);
  const telemetry = createTelemetry({ serviceName: "ddwf-worker" });
  const metrics = createWorkerMetrics(telemetry.meter);
  readiness.done("telemetry");

  const cleanups: (() => Promise<void>)[] = [() => telemetry.shutdown()];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => logger.warn("shutdown step failed", { error }));
  };

  let ops: RunningHttpServer;
  try {
    let databaseInfo: ReturnType<typeof describeDatabase> | undefined;
    const info = () => ({ database: databaseInfo ?? null, endpoint: config.WORKER_ADVERTISED_URL });
    ops = await listen(createOpsRoutes({ service: "ddwf-worker", readiness, renderMetrics: telemetry.renderMetrics, info }), {
      port: config.OPS_PORT,
      host: config.HTTP_HOST,
    });
    cleanups.push(() => ops.close());
    logger.info("ops server listening", { port: ops.port });

    const database = await openMigratedDatabase(config);
    cleanups.push(() => database.close());
    readiness.done("database");
    databaseInfo = describeDatabase(database);
    // A database the worker serves itself is found nowhere else: say where it is.
    logger.info("database ready", databaseInfo);

    const admin = createRestateAdminClient({ baseUrl: config.RESTATE_ADMIN_URL, authToken: config.RESTATE_AUTH_TOKEN });
    const webhookPolicy = { allowInsecure: config.WEBHOOK_ALLOW_INSECURE_URLS };
    const webhookDispatcher = createWebhookDispatcher(webhookPolicy);
    cleanups.push(() => webhookDispatcher.close());
    if (!config.WEBHOOK_SECRET_KEYS) logger.warn("WEBHOOK_SECRET_KEYS is not set: webhook deliveries cannot open their subscriptions' secrets");
    const chains = createChainRegistry([createChainAccess({ rpcUrl: config.CHAIN_RPC_URL, chainId: config.CHAIN_ID })]);
    const custody = await createCustodyProvider(config);
    if (custody) logger.info("custody route on", { provider: custody.name, basePath: config.FIREBLOCKS_BASE_PATH, assetId: config.FIREBLOCKS_ASSET_ID });
    const signOnly = await openSignOnlySigner(config, {
      onInvalidSignature: (address) => logger.warn("the HSM returned an invalid signature; signing again", { signer: address }),
    });
    if (signOnly) {
      cleanups.push(async () => signOnly.signer.close());
      logger.info("sign-only route on", {
        module: signOnly.modulePath,
        token: signOnly.tokenLabel,
        keys: signOnly.signer.addresses(),
        policies: Object.values(signOnly.policies).map((policy) => ({ signer: policy.signer, threshold: policy.threshold, approvers: policy.approvers.length, expiresAfterMs: policy.expiresAfterMs })),
      });
      if (signOnly.signersWithoutKey.length > 0) logger.warn("approval policies name signers without a key in the HSM token", { signers: signOnly.signersWithoutKey });
    } else {
      logger.info("sign-only route off (set HSM_TOKEN_LABEL and HSM_PIN to turn it on)");
    }
    if (config.BUNDLER_URL) logger.info("smart-wallet route on", { bundler: config.BUNDLER_URL });
    else logger.info("smart-wallet route off (set BUNDLER_URL to turn it on)");
    const endpoint: RunningEndpoint = await listenEndpoint(
      {
        db: database.db,
        logger,
        chains,
        signers: createSignerRegistry({ privateKeys: config.SIGNER_DEV_KEYS }),
        custody,
        signOnly: signOnly ? { signer: signOnly.signer, policies: signOnly.policies } : null,
        bundler: config.BUNDLER_URL ? createBundlerAccess({ url: config.BUNDLER_URL }) : null,
        indexer: config.INDEXER_STATUS_URL ? createHttpIndexerSource(config.INDEXER_STATUS_URL) : createChainHeadIndexerSource(chains),
        metrics: createEngineMetrics(telemetry.meter),
        transactions: {
          confirmations: config.TX_CONFIRMATIONS,
          pollIntervalMs: config.TX_RECEIPT_POLL_INTERVAL_MS,
          stuckAfterMs: config.TX_STUCK_AFTER_MS,
          preBroadcastRetryMs: config.TX_PREBROADCAST_RETRY_BUDGET_MS,
          retentionMs: config.TX_WORKFLOW_RETENTION_MS,
          attributionSuffix: config.TX_ATTRIBUTION_SUFFIX as Hex,
          feeBumpPercent: config.TX_FEE_BUMP_PERCENT,
          maxFeePerGasGwei: config.TX_MAX_FEE_PER_GAS_GWEI,
          custody: { pollIntervalMs: config.CUSTODY_POLL_INTERVAL_MS, maxPollIntervalMs: config.CUSTODY_POLL_MAX_INTERVAL_MS },
          smartWallet: { maxBlockedRetryMs: config.SMART_WALLET_BLOCKED_RETRY_MAX_MS },
        },
        admin,
        webhooks: {
          retryScheduleMs: config.WEBHOOK_RETRY_SCHEDULE,
          timeoutMs: config.WEBHOOK_TIMEOUT_MS,
          retryAfterMaxMs: config.WEBHOOK_RETRY_AFTER_MAX_MS,
          transport: {
            secretBox: config.WEBHOOK_SECRET_KEYS ? createWebhookSecretBox(config.WEBHOOK_SECRET_KEYS) : undefined,
            policy: webhookPolicy,
            dispatcher: webhookDispatcher,
          },
        },
        reconciliation: { staleAfterMs: config.RECONCILE_STALE_AFTER_MS, batchSize: config.RECONCILE_BATCH_SIZE, reorgDepth: config.RECONCILE_REORG_DEPTH },
        exchangeRates: { feedUrlTemplate: config.EXCHANGE_RATE_FEED_URL, maxAgeMs: config.EXCHANGE_RATE_MAX_AGE_MS },
        chainMonitor: { blockPollMs: config.CHAIN_MONITOR_POLL_MS },
      },
      { port: config.WORKER_PORT, host: config.WORKER_HOST, identityKeys: config.RESTATE_IDENTITY_KEYS },
    );
    cleanups.push(() => endpoint.close());
    metrics.setServicesBound(endpoint.serviceNames.length);
    registerScrapeTimeGauges({
      meter: telemetry.meter,
      // Its own client with a short timeout: a slow admin API costs one gauge its sample, and the
      // scrape still answers within Prometheus's default 10 s scrape timeout.
      admin: createRestateAdminClient({ baseUrl: config.RESTATE_ADMIN_URL, authToken: config.RESTATE_AUTH_TOKEN, timeoutMs: 5_000 }),
      db: database.db,
      logger,
      stall: { pendingThresholdMs: config.STALL_PENDING_THRESHOLD_MS, noMutationThresholdMs: config.STALL_NO_MUTATION_THRESHOLD_MS },
      boundServices: endpoint.serviceNames,
    });
    readiness.done("endpoint");
    logger.info("restate endpoint listening", { port: endpoint.port, services: endpoint.serviceNames, requestIdentity: config.RESTATE_IDENTITY_KEYS.length > 0 });
    if (config.RESTATE_IDENTITY_KEYS.length === 0) {
      logger.warn("RESTATE_IDENTITY_KEYS is not set: the endpoint accepts requests from any caller, not only Restate");
    }

    let deploymentId: string | null = null;
    if (config.WORKER_AUTO_REGISTER) {
      const registration = await registerEndpoint({
        admin,
        uri: config.WORKER_ADVERTISED_URL,
        timeoutMs: config.WORKER_REGISTRATION_TIMEOUT_MS,
        logger,
        onAttempt: metrics.recordRegistration,
      });
      deploymentId = registration.deploymentId;
    } else {
      metrics.recordRegistration("skipped");
      logger.info("endpoint registration skipped (WORKER_AUTO_REGISTER=false)");
    }
    readiness.done("registration");

    if (config.WORKER_AUTO_REGISTER) {
      const jobs = await startBackgroundJobs({
        ingressUrl: config.RESTATE_INGRESS_URL,
        headers: config.RESTATE_AUTH_TOKEN ? { authorization: `Bearer ${config.RESTATE_AUTH_TOKEN}` } : undefined,
        chainIds: chains.chainIds(),
        reconcileIntervalMs: config.RECONCILE_INTERVAL_MS,
        exchangeRatePairs: config.EXCHANGE_RATE_PAIRS,
        exchangeRateRefreshMs: config.EXCHANGE_RATE_REFRESH_MS,
        logger,
      });
      metrics.setExchangeRateSchedulers(jobs.exchangeRateSchedulers);
    }
    readiness.done("background-jobs");

    const startupMs = performance.now() - startedAt;
    metrics.recordStartupDuration(startupMs);
    logger.info("worker ready", { startupMs: Math.round(startupMs), endpoint: config.WORKER_ADVERTISED_URL, deploymentId });
    return { opsPort: ops.port, endpointPort: endpoint.port, deploymentId, database, stop };
  } catch (error) {
    const pending = readiness.snapshot().pending[0];
    if (pending) readiness.fail(pending, error instanceof Error ? error.message : String(error));
    await stop();
    throw error;
  }
}
