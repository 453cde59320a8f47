/**
 * ExchangeRateScheduler: one recurring refresh loop per currency pair (keyed `BASE-QUOTE`), started
 * at boot from EXCHANGE_RATE_PAIRS. Each tick fetches the pair from the configured feed, validates
 * it and stores it (one journaled step). A refused answer is logged and the loop goes on; the
 * stored history keeps only accepted rates.
 */
import type * as restate from "@restatedev/restate-sdk";
import type { Database } from "../../../shared/db/client.ts";
import { createRecurringObject } from "../../../shared/restate/recurring-object.ts";
import { runStep, stepRetryPolicies } from "../../../shared/restate/step-retry.ts";
import { refreshExchangeRate } from "./steps.ts";

export type ExchangeRateSchedulerDependencies = {
  db: Database;
  settings: { feedUrlTemplate: string | undefined; maxAgeMs: number };
};

export function createExchangeRateScheduler(dependencies: ExchangeRateSchedulerDependencies) {
  return createRecurringObject({
    name: "ExchangeRateScheduler",
    tick: async (ctx: restate.ObjectContext, pair: string) => {
      const template = dependencies.settings.feedUrlTemplate;
      if (!template) {
        ctx.console.warn("no EXCHANGE_RATE_FEED_URL configured; nothing to refresh", { pair });
        return;
      }
      const stored = await runStep(
        ctx,
        "refresh",
        () => refreshExchangeRate(dependencies.db, { pair, feedUrlTemplate: template, maxAgeMs: dependencies.settings.maxAgeMs }),
        stepRetryPolicies.bounded(30_000),
      );
      ctx.console.info("exchange rate refreshed", { pair, rate: stored.rate });
    },
  });
}

export type ExchangeRateScheduler = ReturnType<typeof createExchangeRateScheduler>;
