/** Webhook subscriptions, one delivery per (subscription, event), and every delivery attempt. */
import { bigserial, boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

/**
 * One signing secret of a subscription, sealed with AES-256-GCM (shared/webhooks/secret-box.ts);
 * never stored in clear. Two secrets are active at once while a rotation's overlap lasts, until
 * the old one's `expiresAt`. (`secret`, plaintext, is the form before encryption at rest:
 * `npm run webhooks:reseal` seals it.)
 */
export type WebhookSecret = { ciphertext?: string; secret?: string; createdAt: string; expiresAt?: string };

export const webhookSubscriptions = pgTable("webhook_subscriptions", {
  id: text().primaryKey(),
  url: text().notNull(),
  eventTypes: jsonb().$type<string[]>().notNull(),
  secrets: jsonb().$type<WebhookSecret[]>().notNull(),
  enabled: boolean().notNull().default(true),
  createdAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  updatedAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

export const WEBHOOK_DELIVERY_STATUSES = ["pending", "delivered", "failed", "dead-letter"] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: text().primaryKey(),
    subscriptionId: text()
      .notNull()
      .references(() => webhookSubscriptions.id, { onDelete: "cascade" }),
    eventId: text().notNull(),
    eventType: text().notNull(),
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    status: text().$type<WebhookDeliveryStatus>().notNull().default("pending"),
    attemptCount: integer().notNull().default(0),
    nextAttemptAt: timestamp({ withTimezone: true, mode: "date" }),
    deliveredAt: timestamp({ withTimezone: true, mode: "date" }),
    createdAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex("webhook_deliveries_event_unique").on(table.subscriptionId, table.eventId),
    index("webhook_deliveries_status_idx").on(table.status, table.updatedAt),
  ],
);

export const webhookDeliveryAttempts = pgTable(
  "webhook_delivery_attempts",
  {
    id: bigserial({ mode: "number" }).primaryKey(),
    deliveryId: text()
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: "cascade" }),
    attempt: integer().notNull(),
    statusCode: integer(),
    latencyMs: integer().notNull(),
    error: text(),
    attemptedAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [uniqueIndex("webhook_delivery_attempts_unique").on(table.deliveryId, table.attempt)],
);
