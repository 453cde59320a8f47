/** Webhook subscriptions, deliveries (one per subscription and event) and their attempts. */
import { and, asc, eq, sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { webhookDeliveries, webhookDeliveryAttempts, webhookSubscriptions, type WebhookDeliveryStatus, type WebhookSecret } from "../schema/index.ts";

export type WebhookSubscriptionRow = typeof webhookSubscriptions.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;

export async function createWebhookSubscription(
  db: Database,
  input: { id: string; url: string; eventTypes: string[]; secrets: WebhookSecret[]; enabled?: boolean },
): Promise<WebhookSubscriptionRow> {
  const [row] = await db.insert(webhookSubscriptions).values(input).returning();
  return row!;
}

export async function getWebhookSubscription(db: Database, id: string): Promise<WebhookSubscriptionRow | undefined> {
  const rows = await db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, id)).limit(1);
  return rows[0];
}

export async function updateWebhookSubscription(
  db: Database,
  id: string,
  change: Partial<Pick<WebhookSubscriptionRow, "url" | "eventTypes" | "secrets" | "enabled">>,
): Promise<WebhookSubscriptionRow | undefined> {
  const [row] = await db.update(webhookSubscriptions).set({ ...change, updatedAt: new Date() }).where(eq(webhookSubscriptions.id, id)).returning();
  return row;
}

export async function listWebhookSubscriptions(db: Database): Promise<WebhookSubscriptionRow[]> {
  return db.select().from(webhookSubscriptions).orderBy(asc(webhookSubscriptions.createdAt), asc(webhookSubscriptions.id));
}

/** Deletes a subscription with its deliveries and their attempts; false when there was none. */
export async function deleteWebhookSubscription(db: Database, id: string): Promise<boolean> {
  const deleted = await db.delete(webhookSubscriptions).where(eq(webhookSubscriptions.id, id)).returning({ id: webhookSubscriptions.id });
  return deleted.length > 0;
}

/** Enabled subscriptions whose event types include `eventType` (or the wildcard `*`). */
export async function listEnabledSubscriptionsForEvent(db: Database, eventType: string): Promise<WebhookSubscriptionRow[]> {
  return db
    .select()
    .from(webhookSubscriptions)
    .where(
      and(
        eq(webhookSubscriptions.enabled, true),
        sql`(${webhookSubscriptions.eventTypes} @> ${JSON.stringify([eventType])}::jsonb or ${webhookSubscriptions.eventTypes} @> '["*"]'::jsonb)`,
      ),
    );
}

/** Enabled subscriptions (id and event types) listening to any of `eventTypes`, in one query. */
export async function listEnabledSubscriptionsForEvents(db: Database, eventTypes: readonly string[]): Promise<{ id: string; eventTypes: string[] }[]> {
  if (eventTypes.length === 0) return [];
  return db
    .select({ id: webhookSubscriptions.id, eventTypes: webhookSubscriptions.eventTypes })
    .from(webhookSubscriptions)
    .where(
      and(
        eq(webhookSubscriptions.enabled, true),
        sql`${webhookSubscriptions.eventTypes} ?| ${sql.raw(`array[${[...eventTypes, "*"].map((type) => `'${type.replaceAll("'", "''")}'`).join(",")}]`)}`,
      ),
    );
}

/** Deliveries stored at once; an existing (subscription, event) pair is left as it is. */
export async function insertWebhookDeliveries(
  db: Database,
  rows: { id: string; subscriptionId: string; eventId: string; eventType: string; payload: Record<string, unknown> }[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.insert(webhookDeliveries).values(rows).onConflictDoNothing();
}

/** One delivery per (subscription, event); inserting it again returns the existing one. */
export async function insertWebhookDelivery(
  db: Database,
  input: { id: string; subscriptionId: string; eventId: string; eventType: string; payload: Record<string, unknown> },
): Promise<{ delivery: WebhookDeliveryRow; created: boolean }> {
  const inserted = await db.insert(webhookDeliveries).values(input).onConflictDoNothing().returning();
  if (inserted[0]) return { delivery: inserted[0], created: true };
  const [existing] = await db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.subscriptionId, input.subscriptionId), eq(webhookDeliveries.eventId, input.eventId)))
    .limit(1);
  return { delivery: existing!, created: false };
}

export async function getWebhookDelivery(db: Database, id: string): Promise<WebhookDeliveryRow | undefined> {
  const rows = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id)).limit(1);
  return rows[0];
}

/** Records one attempt (idempotent per attempt number) and counts it on the delivery. */
export async function recordWebhookDeliveryAttempt(
  db: Database,
  attempt: { deliveryId: string; attempt: number; statusCode: number | null; latencyMs: number; error: string | null; attemptedAt?: Date },
): Promise<void> {
  await db.transaction(async (tx) => {
    const inserted = await tx.insert(webhookDeliveryAttempts).values(attempt).onConflictDoNothing().returning({ id: webhookDeliveryAttempts.id });
    if (inserted.length === 0) return;
    await tx
      .update(webhookDeliveries)
      .set({ attemptCount: sql`${webhookDeliveries.attemptCount} + 1`, updatedAt: new Date() })
      .where(eq(webhookDeliveries.id, attempt.deliveryId));
  });
}

export async function setWebhookDeliveryStatus(
  db: Database,
  id: string,
  change: { status: WebhookDeliveryStatus; nextAttemptAt?: Date | null; deliveredAt?: Date | null },
): Promise<void> {
  await db.update(webhookDeliveries).set({ ...change, updatedAt: new Date() }).where(eq(webhookDeliveries.id, id));
}

export async function listWebhookDeliveryAttempts(db: Database, deliveryId: string) {
  return db.select().from(webhookDeliveryAttempts).where(eq(webhookDeliveryAttempts.deliveryId, deliveryId)).orderBy(webhookDeliveryAttempts.attempt);
}
