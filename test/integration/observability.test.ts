import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as clients from "@restatedev/restate-sdk-clients";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import type { EngineCanaryApi } from "../../services/workflows/engine-canary/api.ts";
import { parseSamples, sumSamples } from "../helpers/prometheus-text.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";


const promtool = () => {
  const found = spawnSync("promtool", ["--version"]).status === 0;
  if (!found && process.env.CI) throw new Error("promtool is missing: .ci/run installs it from Debian's prometheus package");
  return found;
};

describe("observability", () => {
  let h: TransactionHarness;
  const scrape = async () => (await fetch(`${h.worker.opsUrl}/metrics`)).text();
  const canary = (key: string) => clients.connect({ url: h.stack.restateIngressUrl }).workflowClient<EngineCanaryApi>({ name: "EngineCanary" }, key);

  beforeAll(async () => {
    h = await startTransactionHarness({
      senders: 1,
      name: "observability-worker",
      env: { STALL_PENDING_THRESHOLD_MS: "1000", STALL_NO_MUTATION_THRESHOLD_MS: "1000" },
    });
  });
  afterAll(async () => {
    await h.stop();
  });

  it("exposes every required series with values that count what ran, in an exposition promtool accepts", async () => {
    const signer = h.senders[0]!.address;
    const completed = await Promise.all([1, 2, 3].map(() => h.submit(signer, signer, { value: "1" })));
    const refused = await h.submit(signer, (await h.tools.newSender("0")).address, { data: "0xdeadbeef" }); // no code: failed
    for (const id of [...completed, refused]) await h.client.waitForTransaction(id);
    const key = `obs-${crypto.randomUUID()}`;
    await canary(key).workflowSubmit({ steps: 2 });
    await canary(key).workflowAttach();

    const text = await scrape();
    if (promtool()) {
      const checked = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
      // promtool exits 0 for valid text; lint remarks (exit 3) are style only, errors exit 1.
      expect(checked.status === 0 || checked.status === 3, checked.stderr + checked.stdout).toBe(true);
      expect(checked.stderr + checked.stdout).not.toMatch(/error parsing|parse error/i);
    }
    expect(sumSamples(text, "dalp_ddwf_endpoint_registrations_total", { outcome: "registered" })).toBe(1);
    expect(sumSamples(text, "dalp_ddwf_services_bound")).toBe(9);
    expect(sumSamples(text, "dalp_ddwf_startup_duration_ms")).toBeGreaterThan(0);
    expect(sumSamples(text, "dalp_ddwf_workflow_completed_total", { workflow_type: "TransactionExecutionWorkflow", outcome: "success" })).toBe(3);
    expect(sumSamples(text, "dalp_ddwf_workflow_completed_total", { workflow_type: "TransactionExecutionWorkflow", outcome: "terminal_error" })).toBe(1);
    expect(sumSamples(text, "dalp_ddwf_workflow_completed_total", { workflow_type: "EngineCanary", outcome: "success" })).toBe(1);
    expect(sumSamples(text, "dalp_ddwf_transaction_phase_transitions_total", { phase: "submitting" })).toBe(4);
    expect(sumSamples(text, "dalp_ddwf_transaction_phase_transitions_total", { phase: "completed" })).toBe(3);
    expect(sumSamples(text, "dalp_ddwf_transaction_phase_transitions_total", { phase: "failed" })).toBe(1);
    expect(sumSamples(text, "dalp_ddwf_transaction_duration_ms_count")).toBe(4);
    expect(sumSamples(text, "dalp_ddwf_exchange_rate_schedulers_active")).toBe(0);
    expect(parseSamples(text).some((s) => s.name === "dalp_ddwf_transactions" && s.labels.phase === "completed")).toBe(true);
    // A stalled sample for each of the 8 bound services, 0 where nothing is stalled.
    expect(new Set(parseSamples(text).filter((s) => s.name === "dalp_ddwf_workflow_stalled").map((s) => s.labels.service)).size).toBe(9);

    // Every series the alert rules and the dashboard query exists.
    const referenced = new Set(
      [readFileSync("infra/prometheus/alerts.yml", "utf8"), readFileSync("infra/grafana/ddwf-dashboard.json", "utf8")]
        .join("\n")
        .match(/dalp_ddwf_[a-z_]+/g),
    );
    const exposedFamilies = new Set(parseSamples(text).map((s) => s.name.replace(/_(bucket|sum|count)$/, "")));
    const known = (name: string) => exposedFamilies.has(name.replace(/_(bucket|sum|count)$/, "")) || OPTIONAL_UNTIL_OBSERVED.has(name);
    expect([...referenced].filter((name) => !known(name))).toEqual([]);
  });

  it("counts a workflow held past the thresholds as stalled, and no longer once it completes", async () => {
    const stalledCanaries = async () => sumSamples(await scrape(), "dalp_ddwf_workflow_stalled", { service: "EngineCanary" });
    const baseline = await stalledCanaries();
    const key = `stall-${crypto.randomUUID()}`;
    await canary(key).workflowSubmit({ steps: 2, holdAfterStep: 1 });
    await waitFor("the canary to hold", async () => (await canary(key).status()).waitingForRelease);
    await waitFor("the held canary to count as stalled", async () => (await stalledCanaries()) >= baseline + 1, { timeoutMs: 30_000, intervalMs: 250 });

    await canary(key).release();
    await canary(key).workflowAttach();
    // The introspection view catches up with the completion within moments.
    await waitFor("the completed canary to leave the stalled count", async () => (await stalledCanaries()) === baseline, { timeoutMs: 30_000, intervalMs: 250 });
  });

  it("logs a completed step once, not again when the journal replays after a worker kill", async () => {
    const key = `replay-${crypto.randomUUID()}`;
    await canary(key).workflowSubmit({ steps: 2, holdAfterStep: 1 });
    await waitFor("the canary to hold", async () => (await canary(key).status()).waitingForRelease);
    await h.worker.crash();
    await h.worker.start();
    await canary(key).release();
    await canary(key).workflowAttach();

    const lines = readFileSync(h.worker.logFile, "utf8")
      .split("\n")
      .filter((line) => line.includes(key))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const waiting = lines.filter((line) => line.msg === "waiting for release");
    expect(waiting).toHaveLength(1);
    expect(lines.filter((line) => line.msg === "canary finished")).toHaveLength(1);
    expect(waiting[0]).toMatchObject({ level: "info", service: "ddwf-worker", restateService: "EngineCanary", handler: "run", workflowKey: key });
    expect(String(waiting[0]?.invocationId)).toMatch(/^inv_/);
    // The attempt after the kill replayed its journal first, and its live lines say so.
    expect(lines.find((line) => line.msg === "canary finished")).toMatchObject({ afterReplay: true });
  });

  it("carries the submission's correlation id into the log lines of the transaction and its processor calls", async () => {
    const correlationId = `corr-${crypto.randomUUID()}`;
    const signer = h.senders[0]!.address;
    const transactionId = await h.submit(signer, signer, { value: "1", correlationId });
    await h.client.waitForTransaction(transactionId);
    const lines = readFileSync(h.worker.logFile, "utf8").split("\n").filter((line) => line.includes(correlationId)).map((line) => JSON.parse(line) as Record<string, string>);
    expect(new Set(lines.map((line) => line.restateService))).toEqual(new Set(["TransactionExecutionWorkflow", "TransactionProcessor"]));
    expect(lines.every((line) => line.invocationId?.startsWith("inv_"))).toBe(true);
  });
});

/** Series that exist only once something happened (a dead letter, a replacement...). */
const OPTIONAL_UNTIL_OBSERVED = new Set([
  "dalp_ddwf_dead_letters_total",
  "dalp_ddwf_webhook_deliveries_total",
  "dalp_ddwf_nonce_replacements_total",
  "dalp_ddwf_reconciliation_findings_total",
  "dalp_ddwf_transaction_processor_queue_depth",
  "dalp_ddwf_invocations_active",
]);

describe("Prometheus configuration", () => {
  it("is a valid config whose alert rules load", () => {
    if (!promtool()) return;
    const output = execFileSync("promtool", ["check", "config", "infra/prometheus/prometheus.yml"], { encoding: "utf8" });
    expect(output).toContain("SUCCESS");
    expect(execFileSync("promtool", ["check", "rules", "infra/prometheus/alerts.yml"], { encoding: "utf8" })).toMatch(/SUCCESS: \d+ rules found/);
  });
});
