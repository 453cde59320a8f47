/**
 * Turns something that happened into webhook deliveries: one journaled step finds the enabled
 * subscriptions for the event type and stores one delivery per subscription (idempotently: the
 * delivery id is derived from the event id and the subscription), then one WebhookDeliveryWorkflow
 * per delivery is started with a one-way send. The event id is stable, so a replay emits nothing new.
 */
import * as restate from "@restatedev/restate-sdk";
import { CORRELATION_HEADER } from "../../../shared/logger.ts";
import type { Database } from "../../../shared/db/client.ts";
import { insertWebhookDelivery, listEnabledSubscriptionsForEvent } from "../../../shared/db/repositories/webhooks.ts";
import { runStep, stepRetryPolicies } from "../../../shared/restate/step-retry.ts";
import type { WebhookDeliveryWorkflowApi, WebhookEvent } from "./api.ts";

type EmitContext = Pick<restate.WorkflowContext, "run" | "workflowSendClient">;

export async function emitWebhookEvent(
  ctx: EmitContext,
  db: Database,
  event: Omit<WebhookEvent, "timestamp"> & { at: number },
  options?: { correlationId?: string },
): Promise<void> {
  const deliveryIds = await runStep(
    ctx,
    `emit-${event.id}`,
    async () => {
      const subscriptions = await listEnabledSubscriptionsForEvent(db, event.type);
      const body: WebhookEvent = { id: event.id, type: event.type, timestamp: new Date(event.at).toISOString(), data: event.data };
      const ids: string[] = [];
      for (const subscription of subscriptions) {
        const { delivery } = await insertWebhookDelivery(db, {
          id: `whd_${event.id}_${subscription.id}`,
          subscriptionId: subscription.id,
          eventId: event.id,
          eventType: event.type,
          payload: body,
        });
        ids.push(delivery.id);
      }
      return ids;
    },
    stepRetryPolicies.bounded(300_000),
  );
  for (const deliveryId of deliveryIds) {
    ctx
      .workflowSendClient<WebhookDeliveryWorkflowApi>({ name: "WebhookDeliveryWorkflow" }, deliveryId)
      .run({ correlationId: options?.correlationId }, restate.rpc.sendOpts({ headers: options?.correlationId ? { [CORRELATION_HEADER]: options.correlationId } : {} }));
  }
}
