import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../shared/config.ts";
import { classifyWebhookStatus, parseRetryAfter, parseRetrySchedule, retryDelay } from "../../shared/webhooks/retry-schedule.ts";
import { generateWebhookSecret, webhookHeaders } from "../../shared/webhooks/standard-webhooks.ts";

describe("Standard Webhooks signing", () => {
  const body = JSON.stringify({ id: "evt_1", type: "transaction.completed", data: { a: 1 } });

  it("produces headers the reference implementation verifies", () => {
    const secret = generateWebhookSecret();
    const headers = webhookHeaders({ id: "evt_1", timestampSeconds: Math.floor(Date.now() / 1000), body, secrets: [secret] });
    expect(() => new Webhook(secret).verify(body, headers)).not.toThrow();
  });

  it("signs with every active secret during a rotation, so either verifies", () => {
    const [oldSecret, newSecret] = [generateWebhookSecret(), generateWebhookSecret()];
    const headers = webhookHeaders({ id: "evt_2", timestampSeconds: Math.floor(Date.now() / 1000), body, secrets: [oldSecret, newSecret] });
    expect(headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(() => new Webhook(oldSecret).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(newSecret).verify(body, headers)).not.toThrow();
  });

  it("is refused by a receiver holding another secret", () => {
    const headers = webhookHeaders({ id: "evt_3", timestampSeconds: Math.floor(Date.now() / 1000), body, secrets: [generateWebhookSecret()] });
    expect(() => new Webhook(generateWebhookSecret()).verify(body, headers)).toThrow();
  });
});

describe("webhook retry schedule", () => {
  it("spans about a day by default", () => {
    const total = loadConfig({}).WEBHOOK_RETRY_SCHEDULE.reduce((sum, ms) => sum + ms, 0);
    expect(total).toBeGreaterThan(20 * 3_600_000);
    expect(total).toBeLessThan(36 * 3_600_000);
  });

  it("names a bad entry of WEBHOOK_RETRY_SCHEDULE", () => {
    expect(() => loadConfig({ WEBHOOK_RETRY_SCHEDULE: "5s,soon" })).toThrowError(/WEBHOOK_RETRY_SCHEDULE.*"soon" is not a duration/);
  });

  it("jitters each pause within ±10% and ends when the schedule is spent", () => {
    const schedule = parseRetrySchedule("10s,1m");
    expect(retryDelay(schedule, 1, 0)).toBe(9_000);
    expect(retryDelay(schedule, 1, 0.999_999)).toBe(11_000);
    expect(retryDelay(schedule, 2, 0.5)).toBe(60_000);
    expect(retryDelay(schedule, 3, 0.5)).toBeNull();
  });

  it("waits longer when the receiver's Retry-After asks for it", () => {
    expect(retryDelay([1_000], 1, 0.5, 30_000)).toBe(30_000);
    expect(retryDelay([60_000], 1, 0.5, 1_000)).toBe(60_000);
    expect(parseRetryAfter("120", 0)).toBe(120_000);
    expect(parseRetryAfter(new Date(90_000).toUTCString(), 30_000)).toBe(60_000);
    expect(parseRetryAfter("soon", 0)).toBeUndefined();
  });

  it("retries 408, 429, 5xx and no answer; stops at other 4xx", () => {
    expect([200, 204, 408, 429, 500, 503, null, 400, 404, 410].map(classifyWebhookStatus)).toEqual([
      "delivered",
      "delivered",
      "retry",
      "retry",
      "retry",
      "retry",
      "retry",
      "rejected",
      "rejected",
      "rejected",
    ]);
  });
});
