import { describe, expect, it } from "vitest";
import { createDapiApp } from "../../admin-api/app.ts";
import { connectDatabase } from "../../shared/db/client.ts";
import { createReadiness } from "../../shared/http/readiness.ts";
import { createLogger } from "../../shared/logger.ts";
import type { RestateAdminClient } from "../../shared/restate/admin-client.ts";
import { APPROVAL_OUTCOMES, APPROVAL_ROUTES } from "../../shared/signers/approval.ts";
import { createEngineMetrics, DEAD_LETTER_KINDS, WORKFLOW_TYPES } from "../../shared/telemetry/engine-metrics.ts";
import { registerScrapeTimeGauges, stalledInvocationsQuery } from "../../shared/telemetry/scrape-time-gauges.ts";
import { createTelemetry } from "../../shared/telemetry/telemetry.ts";
import { createWorkerMetrics } from "../../shared/telemetry/worker-metrics.ts";
import { findSamples } from "../helpers/prometheus-text.ts";


describe("observability: exposed names", () => {
  it("exposes the seed instruments under Prometheus names, counters with _total and durations with _ms", async () => {
    const telemetry = createTelemetry({ serviceName: "test" });
    const worker = createWorkerMetrics(telemetry.meter);
    const engine = createEngineMetrics(telemetry.meter);
    worker.setServicesBound(8);
    worker.recordStartupDuration(1234.5);
    engine.transactionDuration(900, "completed");
    const text = await telemetry.renderMetrics();
    const families = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`));
    expect([...families].sort()).toEqual(
      [
        "dalp_ddwf_approvals_total counter",
        "dalp_ddwf_dead_letters_total counter",
        "dalp_ddwf_endpoint_registrations_total counter",
        "dalp_ddwf_exchange_rate_schedulers_active gauge",
        "dalp_ddwf_nonce_fills_total counter",
        "dalp_ddwf_nonce_replacements_total counter",
        "dalp_ddwf_reconciliation_findings_total counter",
        "dalp_ddwf_services_bound gauge",
        "dalp_ddwf_startup_duration_ms gauge",
        "dalp_ddwf_transaction_duration_ms histogram",
        "dalp_ddwf_transaction_phase_transitions_total counter",
        "dalp_ddwf_webhook_deliveries_total counter",
        "dalp_ddwf_workflow_completed_total counter",
        "target_info gauge",
      ].sort(),
    );
    expect(findSamples(text, "dalp_ddwf_services_bound")[0]?.value).toBe(8);
    expect(findSamples(text, "dalp_ddwf_startup_duration_ms")[0]?.value).toBe(1234.5);
    expect(findSamples(text, "dalp_ddwf_transaction_duration_ms_bucket", { phase: "completed", le: "1000" })[0]?.value).toBe(1);
    await telemetry.shutdown();
  });

  it("starts every known label value at 0, so increase() sees the first event", async () => {
    const telemetry = createTelemetry({ serviceName: "test" });
    createWorkerMetrics(telemetry.meter);
    const engine = createEngineMetrics(telemetry.meter);
    engine.deadLettered("transaction");
    const text = await telemetry.renderMetrics();
    for (const workflowType of WORKFLOW_TYPES) {
      for (const outcome of ["success", "terminal_error"]) {
        expect(findSamples(text, "dalp_ddwf_workflow_completed_total", { workflow_type: workflowType, outcome }).map((s) => s.value)).toEqual([0]);
      }
    }
    expect(Object.fromEntries(DEAD_LETTER_KINDS.map((kind) => [kind, findSamples(text, "dalp_ddwf_dead_letters_total", { kind })[0]?.value]))).toEqual({
      transaction: 1,
      "identity-recovery": 0,
      "asset-issuance": 0,
      "webhook-delivery": 0,
    });
    expect(findSamples(text, "dalp_ddwf_endpoint_registrations_total", { outcome: "failed" }).map((s) => s.value)).toEqual([0]);
    for (const route of APPROVAL_ROUTES) {
      for (const outcome of APPROVAL_OUTCOMES) expect(findSamples(text, "dalp_ddwf_approvals_total", { route, outcome }).map((s) => s.value)).toEqual([0]);
    }
    await telemetry.shutdown();
  });
});

describe("observability: stalled workflows at observation time", () => {
  /** An admin client whose introspection answers are scripted per call, and that counts the calls. */
  function scriptedAdmin(answers: (Record<string, unknown>[] | Error)[]) {
    const queries: string[] = [];
    const admin = {
      query: async (sql: string) => {
        if (!sql.includes("as stalled")) return [];
        queries.push(sql);
        const answer = answers.shift() ?? [];
        if (answer instanceof Error) throw answer;
        return answer;
      },
    } as unknown as RestateAdminClient;
    return { admin, queries };
  }

  async function setup(answers: (Record<string, unknown>[] | Error)[]) {
    const lines: string[] = [];
    const telemetry = createTelemetry({ serviceName: "test" });
    const database = connectDatabase({ url: "postgres://postgres@127.0.0.1:1/none", poolSize: 1 });
    const { admin, queries } = scriptedAdmin(answers);
    registerScrapeTimeGauges({
      meter: telemetry.meter,
      admin,
      db: database.db,
      logger: createLogger({ service: "test", sink: (line) => lines.push(line) }),
      stall: { pendingThresholdMs: 1_500, noMutationThresholdMs: 1_000 },
    });
    return { telemetry, queries, lines, close: () => database.close() };
  }

  it("asks Restate at every scrape (no cache), drops a stall that ended to 0 once, then forgets it", async () => {
    const { telemetry, queries, close } = await setup([
      [{ service: "EngineCanary", stalled: 2 }, { service: "WebhookDeliveryWorkflow", stalled: 1 }],
      [{ service: "EngineCanary", stalled: 1 }],
      [],
    ]);
    const stalled = async () => findSamples(await telemetry.renderMetrics(), "dalp_ddwf_workflow_stalled").map((s) => [s.labels.service, s.value]);
    expect(await stalled()).toEqual([["EngineCanary", 2], ["WebhookDeliveryWorkflow", 1]]);
    expect(await stalled()).toEqual([["EngineCanary", 1], ["WebhookDeliveryWorkflow", 0]]);
    expect(await stalled()).toEqual([["EngineCanary", 0]]);
    expect(await stalled()).toEqual([]);
    expect(queries).toHaveLength(4);
    await close();
    await telemetry.shutdown();
  });

  it("gives no sample and a warning when the admin API fails, and samples again when it answers", async () => {
    const { telemetry, lines, close } = await setup([[{ service: "EngineCanary", stalled: 1 }], new Error("connection refused"), [{ service: "EngineCanary", stalled: 1 }]]);
    const stalled = async () => findSamples(await telemetry.renderMetrics(), "dalp_ddwf_workflow_stalled").map((s) => s.value);
    expect(await stalled()).toEqual([1]);
    expect(await stalled()).toEqual([]);
    const warning = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.gauge === "dalp.ddwf.workflow.stalled");
    expect(warning).toMatchObject({ level: "warn", error: "connection refused" });
    expect(await stalled()).toEqual([1]);
    await close();
    await telemetry.shutdown();
  });

  it("measures a delayed call's pending time from its scheduled start", () => {
    const sql = stalledInvocationsQuery({ pendingThresholdMs: 1_500, noMutationThresholdMs: 300_000 });
    expect(sql).toContain("status != 'completed'");
    expect(sql).toContain("created_at < now() - interval '1 seconds'");
    expect(sql).toContain("coalesce(scheduled_start_at, scheduled_at, created_at) < now() - interval '1 seconds'");
    expect(sql).toContain("modified_at < now() - interval '300 seconds'");
    expect(sql).toContain("group by target_service_name");
  });
});

describe("observability: operator API requests", () => {
  it("counts answered requests by method, matched route pattern and status, never by raw path", async () => {
    const telemetry = createTelemetry({ serviceName: "ddwf-dapi" });
    const app = createDapiApp({
      readiness: createReadiness(["x"]),
      renderMetrics: telemetry.renderMetrics,
      meter: telemetry.meter,
      logger: createLogger({ service: "test", sink: () => {} }),
    });
    await app.request("/health/live");
    await app.request("/health/live");
    await app.request("/health/ready");
    await app.request("/api/v2/admin/operator/workflows/EngineCanary/secret-key-123");
    await app.request("/no/such/route");
    const text = await (await app.request("/metrics")).text();
    const requests = findSamples(text, "dalp_ddwf_dapi_requests_total");
    expect(findSamples(text, "dalp_ddwf_dapi_requests_total", { method: "GET", route: "/health/live", status: "200" })[0]?.value).toBe(2);
    expect(findSamples(text, "dalp_ddwf_dapi_requests_total", { route: "/health/ready", status: "503" })[0]?.value).toBe(1);
    expect(findSamples(text, "dalp_ddwf_dapi_requests_total", { route: "unmatched", status: "404" })[0]?.value).toBe(1);
    expect(requests.map((s) => s.labels.route)).toContain("/api/v2/admin/operator/workflows/:serviceName/:serviceKey");
    expect(text).not.toContain("secret-key-123");
    expect(text).not.toContain("/no/such/route");
    await telemetry.shutdown();
  });
});
