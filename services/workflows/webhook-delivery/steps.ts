/** Side effects of WebhookDeliveryWorkflow; each runs inside one journaled step. */
import { eq, sql } from "drizzle-orm";
import type { Database } from "../../../shared/db/client.ts";
import { recordWebhookDeliveryAttempt, setWebhookDeliveryStatus } from "../../../shared/db/repositories/webhooks.ts";
import { webhookDeliveries, webhookDeliveryAttempts, webhookSubscriptions } from "../../../shared/db/schema/index.ts";
import { parseRetryAfter } from "../../../shared/webhooks/retry-schedule.ts";
import { openActiveSecrets, type WebhookSecretBox } from "../../../shared/webhooks/secret-box.ts";
import { webhookHeaders } from "../../../shared/webhooks/standard-webhooks.ts";
import { webhookUrlProblem, type WebhookTargetPolicy } from "../../../shared/webhooks/target-policy.ts";
import type { Dispatcher } from "undici";
import type { WebhookAttempt } from "./api.ts";

/**
 * How deliveries reach receivers: the key ring that opens the stored secrets, the target policy
 * (checked again at every attempt) and the dispatcher whose DNS lookup enforces it on the address
 * actually connected to.
 */
export type WebhookTransport = { secretBox: WebhookSecretBox | undefined; policy: WebhookTargetPolicy; dispatcher: Dispatcher };

/** `attemptsBefore`: attempts already on record (a replay numbers its own after them). */
export type LoadedDelivery = { url: string; eventId: string; body: string; enabled: boolean; attemptsBefore: number };

export async function loadDelivery(db: Database, deliveryId: string): Promise<LoadedDelivery | null> {
  const [row] = await db
    .select({
      url: webhookSubscriptions.url,
      enabled: webhookSubscriptions.enabled,
      eventId: webhookDeliveries.eventId,
      payload: webhookDeliveries.payload,
      attemptsBefore: sql<number>`(select coalesce(max(${webhookDeliveryAttempts.attempt}), 0)::int from ${webhookDeliveryAttempts} where ${webhookDeliveryAttempts.deliveryId} = ${webhookDeliveries.id})`,
    })
    .from(webhookDeliveries)
    .innerJoin(webhookSubscriptions, eq(webhookSubscriptions.id, webhookDeliveries.subscriptionId))
    .where(eq(webhookDeliveries.id, deliveryId))
    .limit(1);
  if (!row) return null;
  return { url: row.url, enabled: row.enabled, eventId: row.eventId, body: JSON.stringify(row.payload), attemptsBefore: Number(row.attemptsBefore) };
}

/** Secrets are read (and opened) at each attempt, never journaled: a rotation applies to the next attempt. */
async function activeSecrets(db: Database, deliveryId: string, secretBox: WebhookSecretBox | undefined): Promise<string[]> {
  const [row] = await db
    .select({ subscriptionId: webhookSubscriptions.id, secrets: webhookSubscriptions.secrets })
    .from(webhookDeliveries)
    .innerJoin(webhookSubscriptions, eq(webhookSubscriptions.id, webhookDeliveries.subscriptionId))
    .where(eq(webhookDeliveries.id, deliveryId))
    .limit(1);
  return row ? openActiveSecrets(secretBox, row.subscriptionId, row.secrets, Date.now()) : [];
}

/**
 * One attempt: sign, POST, record. HTTP failures are results, not exceptions, so the workflow (not
 * the step's retry policy) decides when to try again; only a database failure makes the step retry.
 */
export async function attemptDelivery(
  db: Database,
  transport: WebhookTransport,
  parameters: { deliveryId: string; delivery: LoadedDelivery; attempt: number; timeoutMs: number; correlationId?: string | undefined },
): Promise<WebhookAttempt & { retryAfterMs?: number }> {
  const started = performance.now();
  let statusCode: number | null = null;
  let error: string | null = null;
  let retryAfterMs: number | undefined;
  try {
    const refused = webhookUrlProblem(parameters.delivery.url, transport.policy);
    if (refused) throw new Error(`the subscription URL is refused: it ${refused}`);
    const secrets = await activeSecrets(db, parameters.deliveryId, transport.secretBox);
    if (secrets.length === 0) throw new Error("the subscription has no active secret");
    const headers = webhookHeaders({ id: parameters.delivery.eventId, timestampSeconds: Math.floor(Date.now() / 1000), body: parameters.delivery.body, secrets });
    if (parameters.correlationId) headers["x-correlation-id"] = parameters.correlationId;
    const response = await fetch(parameters.delivery.url, {
      method: "POST",
      headers,
      body: parameters.delivery.body,
      redirect: "manual",
      signal: AbortSignal.timeout(parameters.timeoutMs),
      dispatcher: transport.dispatcher,
    });
    statusCode = response.status;
    retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), Date.now());
    await response.body?.cancel();
  } catch (cause) {
    error = cause instanceof Error ? (cause.name === "TimeoutError" ? `timed out after ${parameters.timeoutMs} ms` : describeFetchError(cause)) : String(cause);
  }
  const latencyMs = Math.round(performance.now() - started);
  await recordWebhookDeliveryAttempt(db, { deliveryId: parameters.deliveryId, attempt: parameters.attempt, statusCode, latencyMs, error });
  return { attempt: parameters.attempt, statusCode, latencyMs, error, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
}

function describeFetchError(error: Error): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code ? `${error.message} (${cause.code})` : error.message;
}

export async function markDelivery(db: Database, deliveryId: string, state: "delivered" | "failed" | "dead-letter"): Promise<void> {
  await setWebhookDeliveryStatus(db, deliveryId, { status: state, ...(state === "delivered" ? { deliveredAt: new Date() } : {}), nextAttemptAt: null });
}
