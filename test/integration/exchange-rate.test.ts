import { createServer, type Server } from "node:http";
import * as clients from "@restatedev/restate-sdk-clients";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../infra/local/free-port.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { listExchangeRates } from "../../shared/db/repositories/exchange-rates.ts";
import { createLogger } from "../../shared/logger.ts";
import { createInvocationTools } from "../helpers/restate-invocations.ts";
import { startBackgroundJobs } from "../../services/bootstrap/start-background-jobs.ts";
import { exchangeRateScheduler } from "../../services/workflows/exchange-rate/api.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";

/** A rate feed: counts requests per pair and answers a configurable rate. */
async function startFeed() {
  const requests = new Map<string, number>();
  const answers = new Map<string, unknown>();
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://feed");
    const pair = `${url.searchParams.get("base")}-${url.searchParams.get("quote")}`;
    requests.set(pair, (requests.get(pair) ?? 0) + 1);
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(answers.get(pair) ?? { rate: pair === "EUR-USD" ? "1.0842" : "1.2650", timestamp: new Date().toISOString() }));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}/rates?base={base}&quote={quote}`,
    requests,
    answer: (pair: string, body: unknown) => answers.set(pair, body),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("exchange-rate schedulers", () => {
  let h: TransactionHarness;
  let feed: Awaited<ReturnType<typeof startFeed>>;
  const scheduler = (pair: string) =>
    clients.connect({ url: h.stack.restateIngressUrl }).objectClient(exchangeRateScheduler, pair);

  beforeAll(async () => {
    feed = await startFeed();
    h = await startTransactionHarness({
      senders: 1,
      name: "rates-worker",
      env: { EXCHANGE_RATE_PAIRS: "EUR/USD,GBP/USD", EXCHANGE_RATE_FEED_URL: feed.url, EXCHANGE_RATE_REFRESH_MS: "300" },
    });
  });
  afterAll(async () => {
    for (const pair of ["EUR-USD", "GBP-USD"]) await scheduler(pair).stop();
    await h.stop();
    await feed.close();
  });

  it("runs one scheduler per pair after two starts, and stores each refresh once", async () => {
    // The worker's boot asked for the loop (a one-way send): wait until it runs.
    const firstBoot = await waitFor("the loop the boot started", async () => {
      const described = await scheduler("EUR-USD").describe();
      return described.live ? described : undefined;
    });
    // What every later boot (or another replica) does: start the schedulers again.
    const secondBoot = await startBackgroundJobs({
      ingressUrl: h.stack.restateIngressUrl,
      chainIds: [],
      reconcileIntervalMs: 0,
      exchangeRatePairs: ["EUR-USD", "GBP-USD"],
      exchangeRateRefreshMs: 300,
      logger: createLogger({ service: "test", level: "error" }),
    });
    expect(secondBoot.exchangeRateSchedulers).toBe(2);
    const invocations = createInvocationTools(h.stack);
    for (const sent of secondBoot.sent) await invocations.finished(sent.invocationId);
    const afterRestart = await scheduler("EUR-USD").describe();
    expect(afterRestart.generation).toBe(firstBoot.generation);

    const state = await waitFor("a few refreshes", async () => {
      const described = await scheduler("EUR-USD").describe();
      return described.ticks >= 4 ? described : undefined;
    });
    await scheduler("EUR-USD").stop();
    const stopped = await scheduler("EUR-USD").describe();
    const stored = await listExchangeRates(h.db, "EUR-USD", 1000);
    // One loop: one feed request and one stored rate per tick (a second loop would double both).
    expect(stored.length).toBe(stopped.ticks);
    expect(feed.requests.get("EUR-USD")).toBe(stopped.ticks);
    expect(state.live).toBe(true);
    expect(stored[0]).toMatchObject({ pair: "EUR-USD", rate: "1.0842" });
    const metrics = await (await fetch(`${h.worker.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(/dalp_ddwf_exchange_rate_schedulers_active\{[^}]*\} 2/);
  });

  it("refuses a rate the feed gets wrong, stores nothing for it, and keeps refreshing", async () => {
    feed.answer("GBP-USD", { rate: "-3", timestamp: new Date().toISOString() });
    const ticksBefore = (await scheduler("GBP-USD").describe()).ticks;
    const failing = await waitFor("a refused refresh", async () => {
      const described = await scheduler("GBP-USD").describe();
      return described.ticks > ticksBefore && described.lastError ? described : undefined;
    }, { timeoutMs: 90_000 });
    expect(failing.lastError).toContain("not a positive decimal");
    expect((await listExchangeRates(h.db, "GBP-USD", 1000)).some((row) => row.rate === "-3")).toBe(false);

    feed.answer("GBP-USD", { rate: "1.2702", timestamp: new Date().toISOString() });
    await waitFor("a good rate again", async () => (await listExchangeRates(h.db, "GBP-USD", 1))[0]?.rate === "1.2702", { timeoutMs: 90_000 });
  });
});
