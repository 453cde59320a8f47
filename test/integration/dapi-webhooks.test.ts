/**
 * Webhook subscriptions managed through the DAPI, delivered by a real worker through Restate:
 * secrets shown once and stored sealed, URLs checked at creation and at every delivery, rotation
 * with an overlap, test events, and every call audited.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { eq } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../../infra/local/free-port.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { createWebhookSubscription, deleteWebhookSubscription, getWebhookSubscription, listWebhookDeliveryAttempts } from "../../shared/db/repositories/webhooks.ts";
import { operationsAuditLog, webhookDeliveries } from "../../shared/db/schema/index.ts";
import { createRestateAdminClient } from "../../shared/restate/admin-client.ts";
import { startDapiHarness, type DapiHarness } from "../helpers/dapi-harness.ts";
import { resealWebhookSecrets } from "../../admin-api/webhooks/reseal.ts";
import { createWebhookSecretBox, generateSecretKeyEntry, parseSecretKeyRing } from "../../shared/webhooks/secret-box.ts";
import { sealedSecrets, TEST_WEBHOOK_SECRET_KEYS } from "../helpers/webhook-keys.ts";
import { createWorkerProcess, workerEnvironment, type WorkerProcess } from "../helpers/worker-process.ts";

const stack = inject("stack");
const SUBSCRIPTIONS = "/api/v2/admin/webhooks/subscriptions";

type Subscription = { id: string; url: string; eventTypes: string[]; enabled: boolean; secrets: { createdAt: string; expiresAt: string | null }[] };
type Created = { subscription: Subscription; secret: string };
type Received = { headers: IncomingHttpHeaders; body: string };

/** A receiver that records every request as sent, to verify signatures afterwards with any secret. */
async function startRecorder() {
  const received: Received[] = [];
  const server: Server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    received.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
    response.writeHead(204).end();
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    port,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const verifies = (secret: string, request: Received) => {
  try {
    new Webhook(secret).verify(request.body, {
      "webhook-id": String(request.headers["webhook-id"]),
      "webhook-timestamp": String(request.headers["webhook-timestamp"]),
      "webhook-signature": String(request.headers["webhook-signature"]),
    });
    return true;
  } catch {
    return false;
  }
};

describe("webhook subscriptions through the DAPI", () => {
  let worker: WorkerProcess;
  let dapi: DapiHarness;
  let recorder: Awaited<ReturnType<typeof startRecorder>>;
  beforeAll(async () => {
    worker = createWorkerProcess(stack, await workerEnvironment(stack, inject("databaseUrl")), "dapi-webhooks-worker");
    await worker.start();
    dapi = await startDapiHarness();
    recorder = await startRecorder();
  });
  const createdIds: string[] = [];
  afterAll(async () => {
    // Deleted, so transactions of later files send nothing to this file's closed receiver.
    for (const id of createdIds) await deleteWebhookSubscription(dapi.db, id);
    await recorder.close();
    await dapi.close();
    await worker.stop();
  });

  const create = async (body: Record<string, unknown>) => {
    const answer = await dapi.call<Created>("POST", SUBSCRIPTIONS, body);
    if (answer.status === 201) createdIds.push(answer.body.subscription.id);
    return answer;
  };
  const sendTest = async (id: string) => {
    const before = recorder.received.length;
    const answer = await dapi.call<{ eventId: string; deliveryId: string }>("POST", `${SUBSCRIPTIONS}/${id}/test`, {});
    expect(answer.status).toBe(200);
    await waitFor("the test event", async () => recorder.received.length > before);
    return recorder.received.at(-1)!;
  };

  it("creates a subscription, answering its secret once and storing it only sealed", async () => {
    const answer = await create({ url: recorder.url, eventTypes: ["transaction.completed", "transaction.failed"] });

    expect(answer.status).toBe(201);
    expect(answer.body.secret).toMatch(/^whsec_/);
    expect(answer.body.subscription).toMatchObject({ url: recorder.url, eventTypes: ["transaction.completed", "transaction.failed"], enabled: true });
    expect(answer.body.subscription.secrets).toHaveLength(1);
    const stored = await getWebhookSubscription(dapi.db, answer.body.subscription.id);
    expect(stored?.secrets[0]?.ciphertext).toMatch(/^v1:test-1:/);
    expect(JSON.stringify(stored)).not.toContain(answer.body.secret.slice("whsec_".length));
    const read = await dapi.call("GET", `${SUBSCRIPTIONS}/${answer.body.subscription.id}`);
    const listed = await dapi.call("GET", SUBSCRIPTIONS);
    const secretText = answer.body.secret.slice("whsec_".length);
    for (const text of [JSON.stringify(read.body), JSON.stringify(listed.body), JSON.stringify(await dapi.db.select().from(operationsAuditLog)), dapi.logLines.join("\n")]) {
      expect(text).not.toContain(secretText);
    }
  });

  it("audits every call, reads included", async () => {
    const created = await create({ url: recorder.url, eventTypes: ["*"] });
    const id = created.body.subscription.id;
    const calls = [
      created,
      await dapi.call("GET", SUBSCRIPTIONS),
      await dapi.call("GET", `${SUBSCRIPTIONS}/${id}`),
      await dapi.call("PATCH", `${SUBSCRIPTIONS}/${id}`, { enabled: false }),
      await dapi.call("POST", `${SUBSCRIPTIONS}/${id}/rotate-secret`, {}),
      await dapi.call("DELETE", `${SUBSCRIPTIONS}/${id}`),
    ];
    for (const call of calls) expect(await dapi.auditRowsOf(call.requestId)).toMatchObject([{ outcome: "success" }]);
  });

  it("delivers a signed test event that the receiver verifies with the secret it was given", async () => {
    const created = await create({ url: recorder.url, eventTypes: ["transaction.completed"] });

    const request = await sendTest(created.body.subscription.id);

    expect(verifies(created.body.secret, request)).toBe(true);
    expect(JSON.parse(request.body)).toMatchObject({ type: "webhook.test", data: { subscriptionId: created.body.subscription.id } });
  });

  it("changes event types and enabled; a disabled subscription refuses a test event", async () => {
    const created = await create({ url: recorder.url, eventTypes: ["transaction.completed"] });
    const id = created.body.subscription.id;

    const changed = await dapi.call<Subscription>("PATCH", `${SUBSCRIPTIONS}/${id}`, { eventTypes: ["identity-recovery.completed"], enabled: false });

    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ eventTypes: ["identity-recovery.completed"], enabled: false });
    expect(await dapi.call("POST", `${SUBSCRIPTIONS}/${id}/test`, {})).toMatchObject({ status: 409, body: { code: "WEBHOOK_SUBSCRIPTION_DISABLED" } });
    expect(await dapi.call("PATCH", `${SUBSCRIPTIONS}/${id}`, {})).toMatchObject({ status: 400, body: { code: "VALIDATION_FAILED" } });
    expect(await dapi.call("PATCH", `${SUBSCRIPTIONS}/sub_missing`, { enabled: true })).toMatchObject({ status: 404, body: { code: "WEBHOOK_SUBSCRIPTION_NOT_FOUND" } });
  });

  it("rotates the secret: old and new both sign during the overlap, then only the new one", async () => {
    const created = await create({ url: recorder.url, eventTypes: ["transaction.completed"] });
    const id = created.body.subscription.id;

    const rotated = await dapi.call<Created>("POST", `${SUBSCRIPTIONS}/${id}/rotate-secret`, { overlapSeconds: 2 });

    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    const oldExpiry = rotated.body.subscription.secrets.find((secret) => secret.expiresAt !== null)?.expiresAt;
    expect(oldExpiry).toBeDefined();
    const during = await sendTest(id);
    expect([verifies(created.body.secret, during), verifies(rotated.body.secret, during)]).toEqual([true, true]);

    await waitFor("the old secret's expiry", async () => Date.now() > Date.parse(oldExpiry!) + 50, { timeoutMs: 5_000 });
    const after = await sendTest(id);
    expect([verifies(created.body.secret, after), verifies(rotated.body.secret, after)]).toEqual([false, true]);
    expect((await dapi.call<Subscription>("GET", `${SUBSCRIPTIONS}/${id}`)).body.secrets).toHaveLength(1);
  });

  it("deletes a subscription with its deliveries", async () => {
    const created = await create({ url: recorder.url, eventTypes: ["transaction.completed"] });
    const id = created.body.subscription.id;
    await sendTest(id);

    const deleted = await dapi.call("DELETE", `${SUBSCRIPTIONS}/${id}`);

    expect(deleted).toMatchObject({ status: 200, body: { deleted: true, id } });
    expect(await dapi.call("GET", `${SUBSCRIPTIONS}/${id}`)).toMatchObject({ status: 404 });
    expect(await dapi.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.subscriptionId, id))).toEqual([]);
  });

  it("refuses event types that are not event names", async () => {
    const answer = await create({ url: recorder.url, eventTypes: ["transaction.*.x", "DROP TABLE"] });

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: "VALIDATION_FAILED" });
  });

  it("re-seals stored secrets with a new first key, and seals a secret left in clear", async () => {
    const created = await create({ url: recorder.url, eventTypes: ["*"] });
    const legacyId = `sub_${crypto.randomUUID().replaceAll("-", "")}`;
    createdIds.push(legacyId);
    await createWebhookSubscription(dapi.db, { id: legacyId, url: recorder.url, eventTypes: ["*"], secrets: [{ secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", createdAt: new Date().toISOString() }] });
    const secondKey = generateSecretKeyEntry("test-2");
    const rotatedRing = parseSecretKeyRing(`${secondKey},${TEST_WEBHOOK_SECRET_KEYS}`);

    const report = await resealWebhookSecrets(dapi.db, createWebhookSecretBox(rotatedRing));

    expect(report.resealed).toBeGreaterThanOrEqual(1);
    expect(report.sealedFromClear).toBe(1);
    const newOnly = createWebhookSecretBox({ current: "test-2", keys: new Map([["test-2", rotatedRing.keys.get("test-2")!]]) });
    const [resealed, legacy] = await Promise.all([getWebhookSubscription(dapi.db, created.body.subscription.id), getWebhookSubscription(dapi.db, legacyId)]);
    expect(newOnly.open(resealed!.secrets[0]!.ciphertext!, created.body.subscription.id)).toBe(created.body.secret);
    expect(legacy!.secrets).toEqual([{ ciphertext: expect.stringMatching(/^v1:test-2:/) as unknown, createdAt: expect.any(String) as unknown }]);
    // Back to the test key ring, for the rest of this run.
    await resealWebhookSecrets(dapi.db, createWebhookSecretBox(parseSecretKeyRing(`${TEST_WEBHOOK_SECRET_KEYS},${secondKey}`)));
  });

  describe("subscription URLs without the development setting", () => {
    let strict: DapiHarness;
    beforeAll(async () => {
      strict = await startDapiHarness({ webhookAllowInsecureUrls: false });
    });
    afterAll(async () => {
      await strict.close();
    });

    it("refuses http, and https to loopback, private, link-local and metadata addresses, naming url", async () => {
      for (const url of [
        "http://example.com/hooks",
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",
        "https://10.0.0.7/hooks",
        "https://[::ffff:192.168.1.1]/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://user:pw@example.com/hooks",
      ]) {
        const answer = await strict.call("POST", SUBSCRIPTIONS, { url, eventTypes: ["*"] });

        expect(answer.status, url).toBe(400);
        expect(answer.body, url).toMatchObject({ code: "VALIDATION_FAILED", data: { issues: [{ field: "url" }] } });
      }
    });
  });

  it("refuses the metadata address even with the development setting", async () => {
    const answer = await create({ url: "http://169.254.169.254/latest/meta-data", eventTypes: ["*"] });

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ data: { issues: [{ field: "url" }] } });
  });

  it("answers WEBHOOKS_NOT_CONFIGURED without a key to seal secrets with", async () => {
    const unkeyed = await startDapiHarness({ withoutWebhookKeys: true });
    try {
      const answer = await unkeyed.call("POST", SUBSCRIPTIONS, { url: recorder.url, eventTypes: ["*"] });

      expect(answer).toMatchObject({ status: 503, body: { code: "WEBHOOKS_NOT_CONFIGURED" } });
    } finally {
      await unkeyed.close();
    }
  });

  describe("a worker without the development setting", () => {
    beforeAll(async () => {
      await worker.stop();
      worker = createWorkerProcess(stack, await workerEnvironment(stack, inject("databaseUrl"), { WEBHOOK_ALLOW_INSECURE_URLS: "false" }), "dapi-webhooks-strict-worker");
      await worker.start();
    });

    it("checks the address again at delivery, on the address it connects to: a name that now resolves to loopback gets no request", async () => {
      // Stored as if its name had resolved to a public address at creation (a DNS rebinding).
      const id = `sub_${crypto.randomUUID().replaceAll("-", "")}`;
      createdIds.push(id);
      await createWebhookSubscription(dapi.db, {
        id,
        url: `https://localhost:${recorder.port}/hooks`,
        eventTypes: ["*"],
        secrets: sealedSecrets(id, ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]),
      });
      const before = recorder.received.length;

      const answer = await dapi.call<{ deliveryId: string; invocationId: string }>("POST", `${SUBSCRIPTIONS}/${id}/test`, {});

      expect(answer.status).toBe(200);
      const attempts = await waitFor("the first attempt", async () => {
        const recorded = await listWebhookDeliveryAttempts(dapi.db, answer.body.deliveryId);
        return recorded.length > 0 ? recorded : undefined;
      });
      expect(attempts[0]).toMatchObject({ statusCode: null, error: expect.stringContaining("WEBHOOK_ADDRESS_REFUSED") as unknown });
      expect(recorder.received.length).toBe(before);
      // The delivery would go on retrying for a day; it has shown what it had to.
      await createRestateAdminClient({ baseUrl: stack.restateAdminUrl }).killInvocation(answer.body.invocationId);
    });
  });
});
