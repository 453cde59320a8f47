/**
 * Starts the worker's recurring loops once it is registered: one TransactionReconciler per chain
 * and one ExchangeRateScheduler per configured currency pair.
 * Each `start` is idempotent (see shared/restate/recurring-object.ts), so every boot of every
 * replica calls it and exactly one loop per key runs.
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

export async function startBackgroundJobs(parameters: BackgroundJobsParameters): Promise<{ reconcilers: number; exchangeRateSchedulers: number }> {
  const ingress = clients.connect({ url: parameters.ingressUrl, headers: parameters.headers });
  let reconcilers = 0;
  for (const chainId of parameters.chainIds) {
    const reconciler = ingress.objectClient<TransactionReconciler>({ name: "TransactionReconciler" }, String(chainId));
    if (parameters.reconcileIntervalMs === 0) {
      await reconciler.stop();
      continue;
    }
    const result = await reconciler.start({ intervalMs: parameters.reconcileIntervalMs });
    reconcilers += 1;
    parameters.logger.info("reconciliation loop", { chainId, started: result.started, generation: result.generation });
  }
  let exchangeRateSchedulers = 0;
  for (const pair of parameters.exchangeRatePairs) {
    const scheduler = ingress.objectClient<ExchangeRateScheduler>({ name: "ExchangeRateScheduler" }, pair);
    const result = await scheduler.start({ intervalMs: parameters.exchangeRateRefreshMs });
    exchangeRateSchedulers += 1;
    parameters.logger.info("exchange-rate scheduler", { pair, started: result.started, generation: result.generation });
  }
  return { reconcilers, exchangeRateSchedulers };
}
