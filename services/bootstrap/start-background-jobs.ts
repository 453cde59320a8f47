/**
 * Starts the worker's recurring loops once it is registered: one TransactionReconciler per chain
 * and one ExchangeRateScheduler per configured currency pair.
 * Each `start` is idempotent (see shared/restate/recurring-object.ts), so every boot of every
 * replica calls it and exactly one loop per key runs.
 *
 * On a multi-node Restate the ingress node that answers may not know a service registered a moment
 * ago on another node (the schema reaches every node shortly after): its 404 "service not found"
 * is retried for a bounded time.
 */
import * as clients from "@restatedev/restate-sdk-clients";
import type { Logger } from "../../shared/logger.ts";
import type { TransactionReconciler } from "../workflows/reconciliation/object.ts";
import type { ExchangeRateScheduler } from "../workflows/exchange-rate/object.ts";

export type BackgroundJobsParameters = {
  ingressUrl: string;
  headers?: Record<string, string>;
  chainIds: number[];
  reconcileIntervalMs: number;
  exchangeRatePairs: string[];
  exchangeRateRefreshMs: number;
  logger: Logger;
};

/** How long a 404 for a just-registered service is retried; schema propagation takes well under this. */
const SERVICE_PROPAGATION_TIMEOUT_MS = 30_000;

async function whenServiceKnown<T>(call: () => PromiseLike<T>, logger: Logger): Promise<T> {
  const deadline = Date.now() + SERVICE_PROPAGATION_TIMEOUT_MS;
  let delayMs = 100;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const unknownService = error instanceof clients.HttpCallError && error.status === 404 && /not found/i.test(error.responseText);
      if (!unknownService || Date.now() + delayMs > deadline) throw error;
      logger.info("ingress does not know the service yet; retrying", { retryInMs: delayMs });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(delayMs * 2, 2_000);
    }
  }
}

export async function startBackgroundJobs(parameters: BackgroundJobsParameters): Promise<{ reconcilers: number; exchangeRateSchedulers: number }> {
  const ingress = clients.connect({ url: parameters.ingressUrl, headers: parameters.headers });
  const logger = parameters.logger;
  let reconcilers = 0;
  for (const chainId of parameters.chainIds) {
    const reconciler = ingress.objectClient<TransactionReconciler>({ name: "TransactionReconciler" }, String(chainId));
    if (parameters.reconcileIntervalMs === 0) {
      await whenServiceKnown(() => reconciler.stop(), logger);
      continue;
    }
    const result = await whenServiceKnown(() => reconciler.start({ intervalMs: parameters.reconcileIntervalMs }), logger);
    reconcilers += 1;
    parameters.logger.info("reconciliation loop", { chainId, started: result.started, generation: result.generation });
  }
  let exchangeRateSchedulers = 0;
  for (const pair of parameters.exchangeRatePairs) {
    const scheduler = ingress.objectClient<ExchangeRateScheduler>({ name: "ExchangeRateScheduler" }, pair);
    const result = await whenServiceKnown(() => scheduler.start({ intervalMs: parameters.exchangeRateRefreshMs }), logger);
    exchangeRateSchedulers += 1;
    parameters.logger.info("exchange-rate scheduler", { pair, started: result.started, generation: result.generation });
  }
  return { reconcilers, exchangeRateSchedulers };
}
