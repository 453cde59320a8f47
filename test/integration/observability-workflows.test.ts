import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders } from "node:http";
import * as clients from "@restatedev/restate-sdk-clients";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../../infra/local/free-port.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { createWebhookSubscription, updateWebhookSubscription } from "../../shared/db/repositories/webhooks.ts";
import { transactions } from "../../shared/db/schema/index.ts";
import { createRestateAdminClient } from "../../shared/restate/admin-client.ts";
import { WORKFLOW_TYPES } from "../../shared/telemetry/engine-metrics.ts";
import { generateWebhookSecret } from "../../shared/webhooks/standard-webhooks.ts";
import { processorKey } from "../../services/transaction-processor/state.ts";
import type { EngineCanaryApi } from "../../services/workflows/engine-canary/api.ts";
import { transactionExecutionWorkflow } from "../../services/workflows/transaction-execution/api.ts";
import { parseSamples, sumSamples } from "../helpers/prometheus-text.ts";
import { startRpcProxy, type RpcProxy } from "../helpers/rpc-proxy.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";
import { sealedSecrets } from "../helpers/webhook-keys.ts";


/** A webhook receiver that keeps each request's headers and body and answers 204. */
async function startRecordingReceiver() {
  const received: { headers: IncomingHttpHeaders; body: { type?: string; data?: { transactionId?: string } } }[] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    received.push({ headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as (typeof received)[number]["body"] });
    response.writeHead(204).end();
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const stack = inject("stack");

describe("observability of running workflows", () => {
  let h: TransactionHarness;
  let proxy: RpcProxy;
  let receiver: Awaited<ReturnType<typeof startRecordingReceiver>>;
  const subscriptionId = `sub_${crypto.randomUUID().replaceAll("-", "")}`;
  const ingress = clients.connect({ url: stack.restateIngressUrl });
  const admin = createRestateAdminClient({ baseUrl: stack.restateAdminUrl });
  const canary = (key: string) => ingress.workflowClient<EngineCanaryApi>({ name: "EngineCanary" }, key);
  const transactionRun = (id: string) => ingress.workflowClient(transactionExecutionWorkflow, id);
  const scrape = async () => (await fetch(`${h.worker.opsUrl}/metrics`)).text();
  const logLines = () =>
    readFileSync(h.worker.logFile, "utf8")
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);

  beforeAll(async () => {
    proxy = await startRpcProxy(stack.chainRpcUrl);
    receiver = await startRecordingReceiver();
    h = await startTransactionHarness({
      senders: 4,
      name: "observability-workflows-worker",
      env: { CHAIN_RPC_URL: proxy.url, STALL_PENDING_THRESHOLD_MS: "1000", STALL_NO_MUTATION_THRESHOLD_MS: "1000" },
    });
    // Every completed transaction of this file is delivered to the receiver.
    await createWebhookSubscription(h.db, {
      id: subscriptionId,
      url: receiver.url,
      eventTypes: ["transaction.completed"],
      secrets: sealedSecrets(subscriptionId, [generateWebhookSecret()]),
    });
  });
  afterAll(async () => {
    proxy?.releaseSends();
    // Disabled, so later files' transactions send nothing to a closed receiver.
    if (h) await updateWebhookSubscription(h.db, subscriptionId, { enabled: false });
    await h?.stop();
    await receiver?.close();
    await proxy?.close();
  });

  it("counts each workflow type's runs once by outcome, in an exposition promtool parses", async () => {
    const before = await scrape();
    const signer = h.senders[0]!.address;

    const canaryKeys = [1, 2].map(() => `obs-ok-${crypto.randomUUID()}`);
    for (const key of canaryKeys) await canary(key).workflowSubmit({ steps: 2 });
    const failingKey = `obs-fail-${crypto.randomUUID()}`;
    await canary(failingKey).workflowSubmit({ steps: 2, failAtStep: 1 });
    const completed = [await h.submit(signer, signer, { value: "1" }), await h.submit(signer, signer, { value: "1" })];
    const refused = await h.submit(signer, (await h.tools.newSender("0")).address, { data: "0xdeadbeef" }); // no code there: failed
    // Runs for keys that have no record end at once with a terminal error.
    for (const service of ["TransactionExecutionWorkflow", "IdentityRecoveryWorkflow", "WebhookDeliveryWorkflow"]) {
      const answer = await fetch(`${stack.restateIngressUrl}/${service}/missing-${crypto.randomUUID()}/run`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      expect(answer.ok, `${service}: ${await answer.text()}`).toBe(false);
    }

    for (const key of canaryKeys) await canary(key).workflowAttach();
    await expect(canary(failingKey).workflowAttach()).rejects.toThrow(/failed at step 1/);
    for (const id of completed) expect(await transactionRun(id).workflowAttach()).toMatchObject({ phase: "completed" });
    await expect(transactionRun(refused).workflowAttach()).rejects.toThrow();
    await waitFor("both completion webhooks", async () => completed.every((id) => receiver.received.some((r) => r.body.data?.transactionId === id)));

    const expected: Record<string, { success: number; terminal_error: number }> = {
      EngineCanary: { success: 2, terminal_error: 1 },
      TransactionExecutionWorkflow: { success: 2, terminal_error: 2 },
      IdentityRecoveryWorkflow: { success: 0, terminal_error: 1 },
      AssetIssuanceWorkflow: { success: 0, terminal_error: 0 },
      WebhookDeliveryWorkflow: { success: 2, terminal_error: 1 },
    };
    const counted = (text: string) =>
      Object.fromEntries(
        WORKFLOW_TYPES.map((type) => [
          type,
          Object.fromEntries((["success", "terminal_error"] as const).map((outcome) => {
            const labels = { workflow_type: type, outcome };
            return [outcome, sumSamples(text, "dalp_ddwf_workflow_completed_total", labels) - sumSamples(before, "dalp_ddwf_workflow_completed_total", labels)];
          })),
        ]),
      );
    // The last counts land in the step that writes the final record, just after the answer; on a
    // time-out the assertion below shows the difference.
    await waitFor("the completion counts", async () => JSON.stringify(counted(await scrape())) === JSON.stringify(expected), { timeoutMs: 15_000 }).catch(() => {});

    const text = await scrape();
    expect(counted(text)).toEqual(expected);
    const delta = (name: string, labels: Record<string, string>) => sumSamples(text, name, labels) - sumSamples(before, name, labels);
    expect(delta("dalp_ddwf_transaction_phase_transitions_total", { phase: "submitting" })).toBe(3);
    expect(delta("dalp_ddwf_transaction_phase_transitions_total", { phase: "confirming" })).toBe(2);
    expect(delta("dalp_ddwf_transaction_phase_transitions_total", { phase: "completed" })).toBe(2);
    expect(delta("dalp_ddwf_transaction_phase_transitions_total", { phase: "failed" })).toBe(1);
    expect(delta("dalp_ddwf_transaction_duration_ms_count", { phase: "completed" })).toBe(2);
    expect(delta("dalp_ddwf_transaction_duration_ms_count", { phase: "failed" })).toBe(1);
    expect(delta("dalp_ddwf_webhook_deliveries_total", { outcome: "delivered" })).toBe(2);
    expect(sumSamples(text, "dalp_ddwf_dead_letters_total")).toBe(0);
    expect(sumSamples(text, "dalp_ddwf_endpoint_registrations_total", { outcome: "registered" })).toBe(1);
    expect(sumSamples(text, "dalp_ddwf_endpoint_registrations_total", { outcome: "failed" })).toBe(0);
    expect(sumSamples(text, "dalp_ddwf_services_bound")).toBe(9);
    expect(sumSamples(text, "dalp_ddwf_startup_duration_ms")).toBeGreaterThan(0);
    expect(sumSamples(text, "dalp_ddwf_exchange_rate_schedulers_active")).toBe(0); // no EXCHANGE_RATE_PAIRS here

    // The phase gauge is the database's count at scrape time.
    const stored = await h.db.select({ phase: transactions.phase }).from(transactions);
    const byPhase = (text: string) => Object.fromEntries(parseSamples(text).filter((s) => s.name === "dalp_ddwf_transactions").map((s) => [s.labels.phase, s.value]));
    const storedByPhase: Record<string, number> = {};
    for (const row of stored) storedByPhase[row.phase] = (storedByPhase[row.phase] ?? 0) + 1;
    expect(byPhase(text)).toEqual(storedByPhase);

    // promtool parses the exposition; its only remarks are the two _ms names the seeds fix.
    const promtool = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    if (promtool.error && process.env.CI) throw new Error("promtool is missing: .ci/run installs it from Debian's prometheus package");
    if (!promtool.error) {
      const remarks = `${promtool.stdout}${promtool.stderr}`.trim().split("\n").filter(Boolean).sort();
      expect(remarks).toEqual([
        "dalp_ddwf_startup_duration_ms metric names should not contain abbreviated units",
        "dalp_ddwf_transaction_duration_ms metric names should not contain abbreviated units",
      ]);
      expect(promtool.status).toBe(3); // 3: lint remarks only; a parse error exits 1
    }
  });

  it("reports the queue behind a busy TransactionProcessor key, and the queue draining", async () => {
    const signer = h.senders[1]!.address;
    const key = processorKey(h.organizationId, signer, stack.chainId);
    const depth = async () => sumSamples(await scrape(), "dalp_ddwf_transaction_processor_queue_depth", { key });
    proxy.holdSends();
    const heldBefore = proxy.held();
    const ids = [await h.submit(signer, signer, { value: "1" }), await h.submit(signer, signer, { value: "1" }), await h.submit(signer, signer, { value: "1" })];
    await waitFor("the first broadcast to be held", async () => proxy.held() > heldBefore);
    // One submission holds the key (its broadcast waits); the two others wait in the key's inbox.
    await waitFor("two submissions queued behind the busy one", async () => (await depth()) === 2, { timeoutMs: 8_000, intervalMs: 100 });
    const text = await scrape();
    expect(parseSamples(text).filter((s) => s.name === "dalp_ddwf_transaction_processor_queue_depth" && s.labels.key === key)).toHaveLength(1);
    expect(sumSamples(text, "dalp_ddwf_invocations_active", { service: "TransactionProcessor" })).toBeGreaterThanOrEqual(3);

    proxy.releaseSends();
    for (const id of ids) expect(await h.client.waitForTransaction(id, { timeoutMs: 60_000 })).toMatchObject({ phase: "completed" });
    await waitFor("the queue to drain", async () => (await depth()) === 0);
  });

  it("counts a held workflow as stalled once past the thresholds, never a delayed call before its start, and neither after", async () => {
    const stalledCanaries = async () => sumSamples(await scrape(), "dalp_ddwf_workflow_stalled", { service: "EngineCanary" });
    const baseline = await stalledCanaries();
    // A call with a 60 s delay: in Restate it is an unfinished invocation from now on.
    const sent = await fetch(`${stack.restateIngressUrl}/EngineCanary/delayed-${crypto.randomUUID()}/status/send?delay=60s`, { method: "POST" });
    expect(sent.ok).toBe(true);
    const { invocationId } = (await sent.json()) as { invocationId: string };
    const key = `stall-${crypto.randomUUID()}`;
    await canary(key).workflowSubmit({ steps: 2, holdAfterStep: 1 });
    await waitFor("the canary to hold", async () => (await canary(key).status()).waitingForRelease);

    await waitFor("the held canary to count as stalled", async () => (await stalledCanaries()) > baseline, { timeoutMs: 30_000, intervalMs: 250 });
    // The delayed call: unfinished and older than the thresholds, but not due before a minute.
    // (`scheduled_at` is read so that Restate 1.7 fills `scheduled_start_at`.)
    const delayed = async () =>
      (await admin.query<{ status: string; created_at: string; scheduled_at?: string; scheduled_start_at?: string }>(
        `select status, created_at, scheduled_at, scheduled_start_at from sys_invocation where id = '${invocationId}'`,
      ))[0]!;
    await waitFor("the delayed call to be older than both thresholds", async () => Date.now() - Date.parse((await delayed()).created_at) > 2_000);
    const row = await delayed();
    expect(row.status).toBe("scheduled");
    expect(Date.parse(row.scheduled_start_at!)).toBeGreaterThan(Date.now() + 30_000);
    expect(await stalledCanaries()).toBe(baseline + 1);

    await canary(key).release();
    await canary(key).workflowAttach();
    await waitFor("the completed canary to leave the stalled count", async () => (await stalledCanaries()) === baseline, { timeoutMs: 30_000, intervalMs: 250 });
    await admin.killInvocation(invocationId);
  });

  it("carries the submission's correlation id on every log line of the transaction, its processor calls and its webhook, and in the webhook", async () => {
    const signer = h.senders[2]!.address; // used by this test only: every line of its processor key is this transaction's
    const key = processorKey(h.organizationId, signer, stack.chainId);
    const correlationId = `corr-${crypto.randomUUID()}`;
    const transactionId = await h.submit(signer, signer, { value: "1", correlationId });
    expect(await h.client.waitForTransaction(transactionId)).toMatchObject({ phase: "completed" });
    await waitFor("the completion webhook", async () => receiver.received.some((r) => r.body.data?.transactionId === transactionId));
    expect(receiver.received.find((r) => r.body.data?.transactionId === transactionId)?.headers["x-correlation-id"]).toBe(correlationId);

    const mine = (line: Record<string, unknown>) =>
      typeof line.restateService === "string" &&
      (line.workflowKey === transactionId || line.workflowKey === key || String(line.workflowKey).startsWith(`whd_evt_${transactionId}_`));
    // The webhook delivery ends after the transaction: wait for its last line.
    await waitFor("the delivery's log lines", async () =>
      logLines().some((line) => mine(line) && line.restateService === "WebhookDeliveryWorkflow" && line.msg === "Invocation completed successfully."),
    );
    // Status and submission reads by the submitter's client are the caller's calls, not the transaction's: left out.
    const lines = logLines().filter((line) => mine(line) && line.handler !== "status" && line.handler !== "submission");
    const handlers = new Set(lines.map((line) => `${String(line.restateService)}.${String(line.handler)}`));
    // Mined at once, the processor forgets the nonce itself: no `settle` call follows.
    expect(handlers).toEqual(new Set(["TransactionExecutionWorkflow.run", "TransactionProcessor.submit", "WebhookDeliveryWorkflow.run"]));
    expect(lines.filter((line) => line.correlationId !== correlationId)).toEqual([]);
    expect(lines.every((line) => String(line.invocationId).startsWith("inv_"))).toBe(true);
  });

  // Last: it kills the worker, whose counters start again from zero.
  it("does not count again the steps a transaction journaled before a worker kill", async () => {
    const signer = h.senders[3]!.address;
    proxy.holdSends();
    const heldBefore = proxy.held();
    const transactionId = await h.submit(signer, signer, { value: "1" });
    await waitFor("the broadcast to be held", async () => proxy.held() > heldBefore);
    // Journaled and counted by the worker about to die: load, submitting, prepare, sign.
    await h.worker.crash();
    await h.worker.start();
    await waitFor("the broadcast to be retried by the new worker", async () => proxy.held() > heldBefore + 1, { timeoutMs: 30_000 });
    proxy.releaseSends();
    expect(await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 })).toMatchObject({ phase: "completed" });

    const counts = async () => {
      const text = await scrape();
      return {
        submitting: sumSamples(text, "dalp_ddwf_transaction_phase_transitions_total", { phase: "submitting" }),
        confirming: sumSamples(text, "dalp_ddwf_transaction_phase_transitions_total", { phase: "confirming" }),
        completed: sumSamples(text, "dalp_ddwf_transaction_phase_transitions_total", { phase: "completed" }),
        runs: sumSamples(text, "dalp_ddwf_workflow_completed_total", { workflow_type: "TransactionExecutionWorkflow" }),
      };
    };
    await waitFor("the completion to be counted", async () => (await counts()).runs === 1);
    // The new process counted only what it ran: the replayed `submitting` step is not counted again.
    expect(await counts()).toEqual({ submitting: 0, confirming: 1, completed: 1, runs: 1 });
  });
});
