/**
 * Starts the worker's recurring loops once it is registered: one TransactionReconciler per chain
 * and one ExchangeRateScheduler per configured currency pair.
 * Each `start` is idempotent (see shared/restate/recurring-object.ts), so every boot of every
 * replica calls it and exactly one loop per key runs. Restate may go away between registration and
 * these calls, and on a multi-node cluster the ingress node that answers may not know a service
 * registered a moment ago on another node (a 404 until the schema reaches it): each call is tried
 * again, with backoff, until ingress answers (readiness waits meanwhile).
 *
 * The calls are one-way sends: readiness waits for Restate to accept them, never for them to run.
 * A recurring object handles one call at a time per key, so a request-response call would queue
 * behind whatever round holds the key, and a round can wait minutes on a chain that does not
 * answer: the worker would stay unready for as long, though nothing it serves depends on the loop.
 */
import * as clients from "@restatedev/restate-sdk-clients";
import type { Logger } from "../../shared/logger.ts";
import { transactionReconciler } from "../workflows/reconciliation/api.ts";
import { exchangeRateScheduler } from "../workflows/exchange-rate/api.ts";

export type BackgroundJobsParameters = {
  ingressUrl: string;
  headers?: Record<string, string>;
  chainIds: number[];
  reconcileIntervalMs: number;
  exchangeRatePairs: string[];
  exchangeRateRefreshMs: number;
  logger: Logger;
  /** Pause bounds between attempts while ingress does not answer. */
  retry?: { initialMs: number; maxMs: number };
};

export type BackgroundJobsStarted = {
  reconcilers: number;
  exchangeRateSchedulers: number;
  /** The accepted calls, for a caller that wants to wait for them (`ingress.result`). */
  sent: clients.Send[];
};

export async function startBackgroundJobs(parameters: BackgroundJobsParameters): Promise<BackgroundJobsStarted> {
  const ingress = clients.connect({ url: parameters.ingressUrl, headers: parameters.headers });
  const retry = parameters.retry ?? { initialMs: 250, maxMs: 5_000 };
  const untilAnswered = async <T>(what: string, call: () => PromiseLike<T>): Promise<T> => {
    for (let attempt = 1, pause = retry.initialMs; ; attempt++, pause = Math.min(pause * 2, retry.maxMs)) {
      try {
        return await call();
      } catch (error) {
        parameters.logger.warn("background job start failed; trying again", { job: what, attempt, retryInMs: pause, error: error instanceof Error ? error.message : String(error) });
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  };
  const sent: clients.Send[] = [];
  /** Sends one call (tried until ingress takes it) and logs its invocation id. */
  const request = async (what: string, message: string, fields: Record<string, unknown>, call: () => PromiseLike<clients.Send>) => {
    const accepted = await untilAnswered(what, call);
    sent.push(accepted);
    parameters.logger.info(message, { ...fields, invocationId: accepted.invocationId });
  };
  let reconcilers = 0;
  for (const chainId of parameters.chainIds) {
    const reconciler = ingress.objectSendClient(transactionReconciler, String(chainId));
    if (parameters.reconcileIntervalMs === 0) {
      await request(`reconciler ${chainId} stop`, "reconciliation loop stop requested", { chainId }, () => reconciler.stop());
      continue;
    }
    await request(`reconciler ${chainId}`, "reconciliation loop start requested", { chainId }, () => reconciler.start({ intervalMs: parameters.reconcileIntervalMs }));
    reconcilers += 1;
  }
  for (const pair of parameters.exchangeRatePairs) {
    const scheduler = ingress.objectSendClient(exchangeRateScheduler, pair);
    await request(`exchange-rate ${pair}`, "exchange-rate scheduler start requested", { pair }, () => scheduler.start({ intervalMs: parameters.exchangeRateRefreshMs }));
  }
  const exchangeRateSchedulers = parameters.exchangeRatePairs.length;
  return { reconcilers, exchangeRateSchedulers, sent };
}
