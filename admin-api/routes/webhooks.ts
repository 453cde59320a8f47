/**
 * Webhook subscriptions: what ddwf sends to the platform. Reads need system:read, changes
 * system:operate; every call is audited (arguments only: a secret is never in a request, and the
 * one answer that carries it is not stored or logged).
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import type { DapiEnv, WebhookServices } from "../context.ts";
import { DapiError } from "../errors.ts";
import type { ServicesSource } from "../middleware/services.ts";
import { defineOperation } from "../openapi/operation.ts";
import { parseJsonBody, parseParams } from "../request-input.ts";
import {
  createSubscription,
  createSubscriptionRequest,
  deleteSubscription,
  emptyRequest,
  listSubscriptions,
  readSubscription,
  rotateSecret,
  rotateSecretRequest,
  sendTestEvent,
  subscriptionIdParams,
  subscriptionView,
  subscriptionWithSecret,
  testEventResponse,
  updateSubscription,
  updateSubscriptionRequest,
} from "../webhooks/subscriptions.ts";
import { guard, relativePath } from "./guard.ts";

export const WEBHOOKS_PREFIX = "/api/v2/admin/webhooks";
const SUBSCRIPTIONS = `${WEBHOOKS_PREFIX}/subscriptions`;
const ONE = `${SUBSCRIPTIONS}/:id`;

export const webhookOperations = {
  create: defineOperation({
    operationId: "createWebhookSubscription",
    method: "post",
    path: SUBSCRIPTIONS,
    tag: "webhooks",
    summary: "Subscribe a receiver URL to event types; answers the signing secret once",
    description:
      "The URL must be https and resolve to public addresses only (WEBHOOK_ALLOW_INSECURE_URLS allows http and private addresses in development); it is checked again at every delivery. The secret is stored encrypted and never shown again.",
    permission: "system:operate",
    audited: true,
    body: createSubscriptionRequest,
    response: subscriptionWithSecret,
    successStatus: 201,
    errors: ["WEBHOOKS_NOT_CONFIGURED"],
  }),
  list: defineOperation({
    operationId: "listWebhookSubscriptions",
    method: "get",
    path: SUBSCRIPTIONS,
    tag: "webhooks",
    summary: "Every subscription, oldest first (no secret values)",
    permission: "system:read",
    audited: true,
    response: z.object({ items: z.array(subscriptionView) }),
    errors: [],
  }),
  read: defineOperation({
    operationId: "readWebhookSubscription",
    method: "get",
    path: ONE,
    tag: "webhooks",
    summary: "One subscription (no secret values)",
    permission: "system:read",
    audited: true,
    params: subscriptionIdParams,
    response: subscriptionView,
    errors: ["WEBHOOK_SUBSCRIPTION_NOT_FOUND"],
  }),
  update: defineOperation({
    operationId: "updateWebhookSubscription",
    method: "patch",
    path: ONE,
    tag: "webhooks",
    summary: "Change a subscription's event types, or enable or disable it",
    permission: "system:operate",
    audited: true,
    params: subscriptionIdParams,
    body: updateSubscriptionRequest,
    response: subscriptionView,
    errors: ["WEBHOOK_SUBSCRIPTION_NOT_FOUND"],
  }),
  rotateSecret: defineOperation({
    operationId: "rotateWebhookSecret",
    method: "post",
    path: `${ONE}/rotate-secret`,
    tag: "webhooks",
    summary: "Add a new signing secret (answered once); the current one keeps signing for overlapSeconds, then expires",
    permission: "system:operate",
    audited: true,
    params: subscriptionIdParams,
    body: rotateSecretRequest,
    response: subscriptionWithSecret,
    errors: ["WEBHOOK_SUBSCRIPTION_NOT_FOUND", "WEBHOOKS_NOT_CONFIGURED"],
  }),
  delete: defineOperation({
    operationId: "deleteWebhookSubscription",
    method: "delete",
    path: ONE,
    tag: "webhooks",
    summary: "Delete a subscription with its delivery records",
    permission: "system:operate",
    audited: true,
    params: subscriptionIdParams,
    response: z.object({ deleted: z.literal(true), id: z.string() }),
    errors: ["WEBHOOK_SUBSCRIPTION_NOT_FOUND"],
  }),
  test: defineOperation({
    operationId: "sendWebhookTestEvent",
    method: "post",
    path: `${ONE}/test`,
    tag: "webhooks",
    summary: "Deliver a signed webhook.test event to this subscription, through the normal delivery workflow",
    permission: "system:operate",
    audited: true,
    params: subscriptionIdParams,
    body: emptyRequest,
    response: testEventResponse,
    errors: ["WEBHOOK_SUBSCRIPTION_NOT_FOUND", "WEBHOOK_SUBSCRIPTION_DISABLED"],
  }),
};

function webhooksOf(c: Context<DapiEnv>): WebhookServices {
  const webhooks = c.var.services.webhooks;
  if (!webhooks) throw new DapiError("WEBHOOKS_NOT_CONFIGURED", "webhook subscriptions need the DAPI's database");
  return webhooks;
}

export function createWebhookRoutes(source: ServicesSource | undefined): Hono<DapiEnv> {
  const routes = new Hono<DapiEnv>();
  const at = (operation: (typeof webhookOperations)[keyof typeof webhookOperations]) => relativePath(operation, WEBHOOKS_PREFIX);
  const { create, list, read, update, rotateSecret: rotate, delete: remove, test } = webhookOperations;

  routes.post(at(create), guard(create, source), async (c) => {
    const input = await parseJsonBody(c, createSubscriptionRequest);
    const created = await createSubscription(webhooksOf(c), input);
    c.var.logger.info("webhook subscription created", { subscriptionId: created.subscription.id, eventTypes: created.subscription.eventTypes });
    return c.json(created, 201);
  });
  routes.get(at(list), guard(list, source), async (c) => c.json(await listSubscriptions(webhooksOf(c))));
  routes.get(at(read), guard(read, source), async (c) => c.json(await readSubscription(webhooksOf(c), parseParams(c, subscriptionIdParams).id)));
  routes.patch(at(update), guard(update, source), async (c) => {
    const { id } = parseParams(c, subscriptionIdParams);
    return c.json(await updateSubscription(webhooksOf(c), id, await parseJsonBody(c, updateSubscriptionRequest)));
  });
  routes.post(at(rotate), guard(rotate, source), async (c) => {
    const { id } = parseParams(c, subscriptionIdParams);
    const rotated = await rotateSecret(webhooksOf(c), id, await parseJsonBody(c, rotateSecretRequest));
    c.var.logger.info("webhook secret rotated", { subscriptionId: id, secrets: rotated.subscription.secrets });
    return c.json(rotated);
  });
  routes.delete(at(remove), guard(remove, source), async (c) => c.json(await deleteSubscription(webhooksOf(c), parseParams(c, subscriptionIdParams).id)));
  routes.post(at(test), guard(test, source), async (c) => {
    const { id } = parseParams(c, subscriptionIdParams);
    await parseJsonBody(c, emptyRequest);
    return c.json(await sendTestEvent(webhooksOf(c), id));
  });
  return routes;
}
