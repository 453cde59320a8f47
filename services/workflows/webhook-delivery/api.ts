/** What callers may know of WebhookDeliveryWorkflow, and the shape of the events it delivers. */
import type { WebhookDeliveryWorkflow } from "./workflow.ts";

export type WebhookDeliveryWorkflowApi = WebhookDeliveryWorkflow;

/** The body of every webhook: a stable id (also the `webhook-id` header), a type, when, and data. */
export type WebhookEvent = {
  id: string;
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
};

export type WebhookAttempt = { attempt: number; statusCode: number | null; latencyMs: number; error: string | null };

export type WebhookDeliveryStatus = {
  deliveryId: string;
  state: "pending" | "delivered" | "failed" | "dead-letter";
  attempts: WebhookAttempt[];
};
