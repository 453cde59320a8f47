/**
 * Webhook subscriptions as the DAPI manages them: create, list, read, update (event types,
 * enabled), rotate the secret, delete, and send a test event.
 *
 * Secrets: generated here (`whsec_` + 32 random bytes), sealed with the configured key ring before
 * they are stored, and answered in clear exactly once, in the answer of the create or rotate call.
 * A rotation adds a new secret and gives the ones still active an expiry at the end of the overlap
 * window: until then deliveries carry one signature per active secret, so a receiver can switch at
 * its own pace; after it only the new one signs. Expired secrets are dropped at the next rotation.
 */
import { randomUUID } from "node:crypto";
import { z } from "zod";
import {
  createWebhookSubscription,
  deleteWebhookSubscription,
  getWebhookSubscription,
  insertWebhookDelivery,
  listWebhookSubscriptions,
  updateWebhookSubscription,
  type WebhookSubscriptionRow,
} from "../../shared/db/repositories/webhooks.ts";
import type { WebhookSecret } from "../../shared/db/schema/index.ts";
import { generateWebhookSecret } from "../../shared/webhooks/standard-webhooks.ts";
import { checkWebhookTarget } from "../../shared/webhooks/target-policy.ts";
import type { WebhookServices } from "../context.ts";
import { DapiError, validationFailed } from "../errors.ts";

/** Event type names: `namespace.name` (e.g. `transaction.completed`), or `*` for every event. */
const EVENT_TYPE = /^\*$|^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/;
export const TEST_EVENT_TYPE = "webhook.test";
/** How long the previous secret keeps signing after a rotation, unless the call says otherwise. */
export const DEFAULT_ROTATION_OVERLAP_SECONDS = 86_400;
const MAX_ROTATION_OVERLAP_SECONDS = 7 * 86_400;

export const subscriptionIdParams = z.object({
  id: z
    .string()
    .max(100)
    .regex(/^[A-Za-z0-9_-]+$/, "must be a subscription id")
    .describe("Subscription id"),
});

const eventTypes = z
  .array(z.string().max(200).regex(EVENT_TYPE, "must be an event type such as transaction.completed, or *"))
  .min(1, "must name at least one event type")
  .max(50, "must name at most 50 event types")
  .transform((types) => [...new Set(types)]);

export const createSubscriptionRequest = z
  .object({
    url: z.string().max(2_048, "must be at most 2048 characters").describe("Receiver URL: https, resolving to public addresses only"),
    eventTypes: eventTypes.describe('Event types to deliver, e.g. ["transaction.completed"], or ["*"]'),
    enabled: z.boolean().default(true),
  })
  .strict();

export const updateSubscriptionRequest = z
  .object({
    eventTypes: eventTypes.optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .refine((change) => change.eventTypes !== undefined || change.enabled !== undefined, "must change eventTypes or enabled");

export const rotateSecretRequest = z
  .object({
    overlapSeconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_ROTATION_OVERLAP_SECONDS, `must be at most ${MAX_ROTATION_OVERLAP_SECONDS} (7 days)`)
      .default(DEFAULT_ROTATION_OVERLAP_SECONDS)
      .describe("How long the current secret(s) keep signing beside the new one; 0 ends them at once"),
  })
  .strict();

export const emptyRequest = z.object({}).strict().describe("An empty object");

export const subscriptionView = z.object({
  id: z.string(),
  url: z.string(),
  eventTypes: z.array(z.string()),
  enabled: z.boolean(),
  secrets: z
    .array(z.object({ createdAt: z.string(), expiresAt: z.string().nullable() }))
    .describe("The signing secrets still held (never their value): the newest signs until a rotation, older ones until they expire"),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type SubscriptionView = z.infer<typeof subscriptionView>;

export const subscriptionWithSecret = z.object({
  subscription: subscriptionView,
  secret: z.string().describe("The new signing secret (whsec_…): shown this once, stored only encrypted"),
});

export function presentSubscription(row: WebhookSubscriptionRow, now = Date.now()): SubscriptionView {
  return {
    id: row.id,
    url: row.url,
    eventTypes: row.eventTypes,
    enabled: row.enabled,
    secrets: row.secrets
      .filter((secret) => !secret.expiresAt || Date.parse(secret.expiresAt) > now)
      .map((secret) => ({ createdAt: secret.createdAt, expiresAt: secret.expiresAt ?? null })),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

function requireSecretBox(services: WebhookServices) {
  if (!services.secretBox) {
    throw new DapiError("WEBHOOKS_NOT_CONFIGURED", "WEBHOOK_SECRET_KEYS is not configured: no webhook secret can be stored encrypted, so none is created");
  }
  return services.secretBox;
}

async function requireSubscription(services: WebhookServices, id: string): Promise<WebhookSubscriptionRow> {
  const row = await getWebhookSubscription(services.db, id);
  if (!row) throw new DapiError("WEBHOOK_SUBSCRIPTION_NOT_FOUND", `no webhook subscription ${id}`, { data: { id } });
  return row;
}

export async function createSubscription(services: WebhookServices, input: z.output<typeof createSubscriptionRequest>) {
  const box = requireSecretBox(services);
  const problem = await checkWebhookTarget(input.url, services.policy);
  if (problem) throw validationFailed("url", problem);
  const id = `sub_${randomUUID().replaceAll("-", "")}`;
  const secret = generateWebhookSecret();
  const row = await createWebhookSubscription(services.db, {
    id,
    url: new URL(input.url).href,
    eventTypes: input.eventTypes,
    enabled: input.enabled,
    secrets: [{ ciphertext: box.seal(secret, id), createdAt: new Date().toISOString() }],
  });
  return { subscription: presentSubscription(row), secret };
}

export async function listSubscriptions(services: WebhookServices) {
  return { items: (await listWebhookSubscriptions(services.db)).map((row) => presentSubscription(row)) };
}

export async function readSubscription(services: WebhookServices, id: string) {
  return presentSubscription(await requireSubscription(services, id));
}

export async function updateSubscription(services: WebhookServices, id: string, change: z.output<typeof updateSubscriptionRequest>) {
  await requireSubscription(services, id);
  const row = await updateWebhookSubscription(services.db, id, {
    ...(change.eventTypes === undefined ? {} : { eventTypes: change.eventTypes }),
    ...(change.enabled === undefined ? {} : { enabled: change.enabled }),
  });
  if (!row) throw new DapiError("WEBHOOK_SUBSCRIPTION_NOT_FOUND", `no webhook subscription ${id}`, { data: { id } });
  return presentSubscription(row);
}

export async function rotateSecret(services: WebhookServices, id: string, input: z.output<typeof rotateSecretRequest>) {
  const box = requireSecretBox(services);
  const current = await requireSubscription(services, id);
  const now = Date.now();
  const endOfOverlap = new Date(now + input.overlapSeconds * 1_000).toISOString();
  const kept: WebhookSecret[] = current.secrets
    .filter((secret) => !secret.expiresAt || Date.parse(secret.expiresAt) > now)
    .map((secret) => ({ ...secret, expiresAt: secret.expiresAt && secret.expiresAt < endOfOverlap ? secret.expiresAt : endOfOverlap }));
  const secret = generateWebhookSecret();
  const row = await updateWebhookSubscription(services.db, id, {
    secrets: [...kept, { ciphertext: box.seal(secret, id), createdAt: new Date(now).toISOString() }],
  });
  if (!row) throw new DapiError("WEBHOOK_SUBSCRIPTION_NOT_FOUND", `no webhook subscription ${id}`, { data: { id } });
  return { subscription: presentSubscription(row, now), secret };
}

export async function deleteSubscription(services: WebhookServices, id: string) {
  if (!(await deleteWebhookSubscription(services.db, id))) {
    throw new DapiError("WEBHOOK_SUBSCRIPTION_NOT_FOUND", `no webhook subscription ${id}`, { data: { id } });
  }
  return { deleted: true as const, id };
}

export const testEventResponse = z.object({
  acknowledged: z.literal(true),
  eventId: z.string(),
  deliveryId: z.string().describe("Delivery record; its attempts are kept like any other delivery's"),
  invocationId: z.string(),
});

/** Stores a `webhook.test` event for this one subscription and starts its delivery, signed like any other. */
export async function sendTestEvent(services: WebhookServices, id: string) {
  const subscription = await requireSubscription(services, id);
  if (!subscription.enabled) {
    throw new DapiError("WEBHOOK_SUBSCRIPTION_DISABLED", `webhook subscription ${id} is disabled; enable it before sending a test event`, { data: { id } });
  }
  const eventId = `evt_test_${randomUUID().replaceAll("-", "")}`;
  const { delivery } = await insertWebhookDelivery(services.db, {
    id: `whd_${eventId}_${id}`,
    subscriptionId: id,
    eventId,
    eventType: TEST_EVENT_TYPE,
    payload: {
      id: eventId,
      type: TEST_EVENT_TYPE,
      timestamp: new Date().toISOString(),
      data: { subscriptionId: id, message: "a test event sent through the operator API" },
    },
  });
  const { invocationId } = await services.startDelivery(delivery.id);
  return { acknowledged: true as const, eventId, deliveryId: delivery.id, invocationId };
}
