import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { getDeadLetter } from "../../shared/db/repositories/dead-letters.ts";
import { createWebhookSubscription, listWebhookDeliveryAttempts, updateWebhookSubscription } from "../../shared/db/repositories/webhooks.ts";
import { webhookDeliveries } from "../../shared/db/schema/index.ts";
import { generateWebhookSecret } from "../../shared/webhooks/standard-webhooks.ts";
import { eq } from "drizzle-orm";
import { startDapiHarness } from "../helpers/dapi-harness.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";
import { sealedSecrets } from "../helpers/webhook-keys.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.ts";

/** Retries 100 ms apart in these tests: seven attempts in all, the schedule's shape without its day. */
const SCHEDULE = "100ms,100ms,100ms,100ms,100ms,100ms";

describe("webhook delivery", () => {
  let h: TransactionHarness;
  let receiver: WebhookReceiver;
  let subscriptionId: string;

  beforeAll(async () => {
    h = await startTransactionHarness({ senders: 1, name: "webhook-worker", env: { WEBHOOK_RETRY_SCHEDULE: SCHEDULE, WEBHOOK_RETRY_AFTER_MAX_MS: "2000" } });
  });
  afterEach(async () => {
    // Disabled, so transactions of later tests and files send nothing to a closed receiver.
    await updateWebhookSubscription(h.db, subscriptionId, { enabled: false });
    await receiver.close();
  });
  afterAll(async () => {
    await h.stop();
  });

  /** A receiver with two active secrets (a rotation in progress) and a subscription to completions. */
  async function subscribe() {
    const secrets = [generateWebhookSecret(), generateWebhookSecret()];
    receiver = await startWebhookReceiver([secrets[1]!]);
    subscriptionId = `sub_${crypto.randomUUID().replaceAll("-", "")}`;
    await createWebhookSubscription(h.db, {
      id: subscriptionId,
      url: receiver.url,
      eventTypes: ["transaction.completed"],
      secrets: sealedSecrets(subscriptionId, secrets),
    });
  }

  const completeOneTransaction = async () => {
    const transactionId = await h.submit(h.senders[0]!.address, h.senders[0]!.address, { value: "1", correlationId: `corr-${crypto.randomUUID()}` });
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    return { transactionId, final };
  };
  const deliveryOf = async (transactionId: string) => {
    const rows = await h.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.subscriptionId, subscriptionId));
    return rows.find((row) => (row.payload as { data?: { transactionId?: string } }).data?.transactionId === transactionId);
  };

  it("signs every delivery so a Standard Webhooks receiver verifies it, with a stable event id", async () => {
    await subscribe();
    const { transactionId, final } = await completeOneTransaction();
    await waitFor("the completion webhook", async () => receiver.accepted().length === 1);
    const [hook] = receiver.accepted();
    expect(hook).toMatchObject({ verified: true, type: "transaction.completed" });
    expect(hook?.body).toMatchObject({ type: "transaction.completed", data: { transactionId, txHash: final.txHash, phase: "completed" } });
    expect(hook?.id).toBe(hook?.body.id);
    expect(receiver.received.every((r) => r.verified)).toBe(true);
  });

  it("delivers exactly once to a receiver that fails five times first, recording every attempt", async () => {
    await subscribe();
    receiver.failNext(5, 503);
    const { transactionId } = await completeOneTransaction();
    await waitFor("the delivery to succeed", async () => (await deliveryOf(transactionId))?.status === "delivered");
    expect(receiver.accepted()).toHaveLength(1);
    expect(receiver.received.map((r) => r.answeredWith)).toEqual([503, 503, 503, 503, 503, 204]);
    const delivery = await deliveryOf(transactionId);
    const attempts = await listWebhookDeliveryAttempts(h.db, delivery!.id);
    expect(attempts.map((a) => a.statusCode)).toEqual([503, 503, 503, 503, 503, 204]);
    expect(attempts.every((a) => a.latencyMs >= 0)).toBe(true);
  });

  it("stops at a 410 Gone without retrying", async () => {
    await subscribe();
    receiver.failNext(10, 410);
    const { transactionId } = await completeOneTransaction();
    await waitFor("the delivery to end", async () => (await deliveryOf(transactionId))?.status === "failed");
    expect(receiver.received.map((r) => r.answeredWith)).toEqual([410]);
  });

  it("dead-letters a delivery whose receiver stays down past the budget, and a replay delivers it", async () => {
    await subscribe();
    receiver.setDown(true);
    const { transactionId } = await completeOneTransaction();
    await waitFor("the dead letter", async () => (await deliveryOf(transactionId))?.status === "dead-letter");
    const delivery = (await deliveryOf(transactionId))!;
    expect(await listWebhookDeliveryAttempts(h.db, delivery.id)).toHaveLength(7);
    const letter = await getDeadLetter(h.db, `dl_webhook_${delivery.id}`);
    expect(letter).toMatchObject({ kind: "webhook-delivery", status: "open", causeCode: "WEBHOOK_RETRIES_EXHAUSTED" });
    expect(receiver.accepted()).toHaveLength(0);

    receiver.setDown(false);
    const dapi = await startDapiHarness();
    try {
      const replay = await dapi.call("POST", `/api/v2/admin/operator/dead-letters/${letter!.id}/replay`, {});
      expect(replay.status).toBe(200);
    } finally {
      await dapi.close();
    }
    await waitFor("the replayed delivery", async () => receiver.accepted().length === 1);
    expect((await getDeadLetter(h.db, letter!.id))?.status).toBe("replayed");
    expect(receiver.accepted()[0]?.id).toBe(delivery.eventId);
    // The seven failed attempts stay on record, and the replay's attempt is numbered after them.
    const attempts = await waitFor("the replay's attempt on record", async () => {
      const rows = await listWebhookDeliveryAttempts(h.db, delivery.id);
      return rows.length === 8 ? rows : undefined;
    });
    expect(attempts.map((row) => row.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(attempts.at(-1)?.statusCode).toBe(204);
  });

  it("bounds a receiver's Retry-After by WEBHOOK_RETRY_AFTER_MAX_MS instead of sleeping as long as it asks", async () => {
    await subscribe();
    // A day and more: the worker of this file caps it at two seconds.
    receiver.failNext(1, 503, { "retry-after": "100000" });
    const { transactionId } = await completeOneTransaction();
    await waitFor("the delivery after the bounded pause", async () => (await deliveryOf(transactionId))?.status === "delivered", { timeoutMs: 20_000 });
    expect(await listWebhookDeliveryAttempts(h.db, (await deliveryOf(transactionId))!.id)).toHaveLength(2);
  });
});
