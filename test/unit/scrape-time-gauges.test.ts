import { describe, expect, it } from "vitest";
import { connectDatabase } from "../../shared/db/client.ts";
import { createLogger } from "../../shared/logger.ts";
import { createRestateAdminClient, type RestateAdminClient } from "../../shared/restate/admin-client.ts";
import { registerScrapeTimeGauges, stalledInvocationsQuery } from "../../shared/telemetry/scrape-time-gauges.ts";
import { createTelemetry } from "../../shared/telemetry/telemetry.ts";
import { parseSamples } from "../helpers/prometheus-text.ts";

describe("scrape-time gauges", () => {
  it("give no sample and a logged warning when their sources are down, and the scrape still succeeds", async () => {
    const lines: string[] = [];
    const telemetry = createTelemetry({ serviceName: "test" });
    const database = connectDatabase({ url: "postgres://postgres@127.0.0.1:1/none", poolSize: 1 });
    registerScrapeTimeGauges({
      meter: telemetry.meter,
      admin: createRestateAdminClient({ baseUrl: "http://127.0.0.1:1", timeoutMs: 500 }),
      db: database.db,
      logger: createLogger({ service: "test", sink: (line) => lines.push(line) }),
      stall: { pendingThresholdMs: 1_000, noMutationThresholdMs: 1_000 },
    });
    const text = await telemetry.renderMetrics();
    await database.close();
    expect(text).not.toMatch(/^dalp_ddwf_workflow_stalled\{/m);
    const warnings = lines.map((line) => JSON.parse(line) as { level: string; gauge: string });
    expect(warnings.filter((w) => w.level === "warn").map((w) => w.gauge).sort()).toEqual([
      "dalp.ddwf.invocations.active",
      "dalp.ddwf.transaction_processor.queue_depth",
      "dalp.ddwf.transactions",
      "dalp.ddwf.workflow.stalled",
    ]);
  });

  it("reports 0 stalled for every bound service when nothing is stalled, so a quiet engine differs from a broken detector", async () => {
    const telemetry = createTelemetry({ serviceName: "test" });
    const quietAdmin = { query: async () => [] } as unknown as RestateAdminClient;
    const database = connectDatabase({ url: "postgres://postgres@127.0.0.1:1/none", poolSize: 1 });
    registerScrapeTimeGauges({
      meter: telemetry.meter,
      admin: quietAdmin,
      db: database.db,
      logger: createLogger({ service: "test", sink: () => {} }),
      stall: { pendingThresholdMs: 1_000, noMutationThresholdMs: 1_000 },
      boundServices: ["EngineCanary", "TransactionProcessor"],
    });
    const text = await telemetry.renderMetrics();
    await database.close();
    const stalled = parseSamples(text).filter((sample) => sample.name === "dalp_ddwf_workflow_stalled");
    expect(stalled.map((sample) => [sample.labels.service, sample.value]).sort()).toEqual([
      ["EngineCanary", 0],
      ["TransactionProcessor", 0],
    ]);
  });

  it("asks for unfinished invocations past both thresholds, in whole seconds", () => {
    const sql = stalledInvocationsQuery({ pendingThresholdMs: 600_000, noMutationThresholdMs: 299_999 });
    expect(sql).toContain("status != 'completed'");
    expect(sql).toContain("created_at < now() - interval '600 seconds'");
    expect(sql).toContain("modified_at < now() - interval '299 seconds'");
  });
});
