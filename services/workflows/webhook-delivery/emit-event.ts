/**
 * Turns something that happened into webhook deliveries, in two parts so callers can fold the first
 * into a journaled step they already run:
 * - `storeWebhookDeliveries` (inside a step): finds the enabled subscriptions for the event type and
 *   stores one delivery per subscription, idempotently (the delivery id is derived from the event id
 *   and the subscription);
 * - `startWebhookDeliveries` (in the handler): one WebhookDeliveryWorkflow per delivery, started with
 *   a one-way send.
 * The event id is fixed by the event's place in its workflow, so a replay emits nothing new.
 */
import * as restate from "@restatedev/restate-sdk";
import type { Database } from "../../../shared/db/client.ts";
import { insertWebhookDeliveries, listEnabledSubscriptionsForEvents } from "../../../shared/db/repositories/webhooks.ts";
import { CORRELATION_HEADER } from "../../../shared/logger.ts";
import { runStep, stepRetryPolicies } from "../../../shared/restate/step-retry.ts";
import type { WebhookDeliveryWorkflowApi, WebhookEvent } from "./api.ts";

export type EventToEmit = Omit<WebhookEvent, "timestamp">;

export async function storeWebhookDeliveries(db: Database, event: EventToEmit): Promise<string[]> {
  return storeWebhookDeliveriesOfEvents(db, [event]);
}

/**
 * The deliveries of several events at once: one query for the subscriptions, one insert for the
 * deliveries (none of either when nobody listens). Ids are derived, so a retry answers the same.
 */
export async function storeWebhookDeliveriesOfEvents(db: Database, events: readonly EventToEmit[]): Promise<string[]> {
  const subscriptions = await listEnabledSubscriptionsForEvents(db, [...new Set(events.map((event) => event.type))]);
  if (subscriptions.length === 0) return [];
  const timestamp = new Date().toISOString();
  const rows = events.flatMap((event) =>
    subscriptions
      .filter((subscription) => subscription.eventTypes.includes(event.type) || subscription.eventTypes.includes("*"))
      .map((subscription) => ({
        id: `whd_${event.id}_${subscription.id}`,
        subscriptionId: subscription.id,
        eventId: event.id,
        eventType: event.type,
        payload: { ...event, timestamp } satisfies WebhookEvent,
      })),
  );
  await insertWebhookDeliveries(db, rows);
  return rows.map((row) => row.id);
}

export function startWebhookDeliveries(ctx: Pick<restate.WorkflowContext, "workflowSendClient">, deliveryIds: string[], correlationId?: string): void {
  const headers: Record<string, string> = correlationId ? { [CORRELATION_HEADER]: correlationId } : {};
  for (const deliveryId of deliveryIds) {
    ctx
      .workflowSendClient<WebhookDeliveryWorkflowApi>({ name: "WebhookDeliveryWorkflow" }, deliveryId)
      .run({ correlationId }, restate.rpc.sendOpts({ headers }));
  }
}

/** Both parts, for callers without a step to fold the storing into. */
export async function emitWebhookEvent(
  ctx: Pick<restate.WorkflowContext, "run" | "workflowSendClient">,
  db: Database,
  event: EventToEmit,
  options?: { correlationId?: string },
): Promise<void> {
  const deliveryIds = await runStep(ctx, `emit-${event.id}`, () => storeWebhookDeliveries(db, event), stepRetryPolicies.bounded(300_000));
  startWebhookDeliveries(ctx, deliveryIds, options?.correlationId);
}
