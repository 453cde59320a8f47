/**
 * WebhookDeliveryWorkflow, keyed by the delivery id (one event to one subscription).
 *
 * Steps: load the delivery → attempt-N (sign by Standard Webhooks, POST, record the attempt with
 * status, latency and error) → on 2xx `delivered`; on a 4xx other than 408/429 `failed` (final);
 * otherwise a durable sleep from the retry schedule (jittered, longer when the receiver sends
 * Retry-After) and the next attempt. When the schedule is spent: `dead-letter`, with a dead-letter
 * row an operator can replay through the DAPI. Failed and dead-lettered deliveries end the invocation
 * with a terminal error (WEBHOOK_REJECTED, WEBHOOK_RETRIES_EXHAUSTED), after their records are written.
 * Compensations: none; a delivered webhook cannot be taken back.
 */
import * as restate from "@restatedev/restate-sdk";
import type { Database } from "../../../shared/db/client.ts";
import { insertDeadLetter } from "../../../shared/db/repositories/dead-letters.ts";
import { DomainTerminalError } from "../../../shared/errors.ts";
import { countCompletion } from "../../../shared/telemetry/count-completion.ts";
import { OUTAGE_TOLERANT_RETRY_POLICY, runStep, stepRetryPolicies } from "../../../shared/restate/step-retry.ts";
import { classifyWebhookStatus, retryDelay } from "../../../shared/webhooks/retry-schedule.ts";
import type { WebhookAttempt, WebhookDeliveryStatus } from "./api.ts";
import { attemptDelivery, loadDelivery, markDelivery, type WebhookTransport } from "./steps.ts";

export type WebhookDeliveryDependencies = {
  db: Database;
  transport: WebhookTransport;
  settings: { retryScheduleMs: number[]; timeoutMs: number; retryAfterMaxMs: number };
  metrics: {
    webhookDelivery(outcome: "delivered" | "failed" | "dead-letter" | "retry"): void;
    workflowCompleted(workflowType: string, outcome: "success" | "terminal_error"): void;
    deadLettered(kind: string): void;
  };
};

type State = { status: WebhookDeliveryStatus };

export function createWebhookDeliveryWorkflow(dependencies: WebhookDeliveryDependencies) {
  const { db, settings, metrics } = dependencies;
  const dbRetry = stepRetryPolicies.bounded(300_000);
  return restate.workflow({
    name: "WebhookDeliveryWorkflow",
    options: { retryPolicy: OUTAGE_TOLERANT_RETRY_POLICY },
    handlers: {
      run: async (ctx: restate.WorkflowContext<State>, input?: { correlationId?: string }): Promise<WebhookDeliveryStatus> => {
        const deliveryId = ctx.key;
        const delivery = await runStep(ctx, "load-delivery", () => loadDelivery(db, deliveryId), dbRetry);
        if (!delivery) {
          await countCompletion(ctx, metrics, "WebhookDeliveryWorkflow", "terminal_error");
          throw new DomainTerminalError("WEBHOOK_DELIVERY_NOT_FOUND", `no webhook delivery ${deliveryId}`, { httpStatus: 404 });
        }
        const attempts: WebhookAttempt[] = [];
        const publish = (state: WebhookDeliveryStatus["state"]) => {
          const status = { deliveryId, state, attempts: [...attempts] };
          ctx.set("status", status);
          return status;
        };
        const end = async (state: "delivered" | "failed" | "dead-letter", lastError: string | null) => {
          await runStep(ctx, `mark-${state}`, async () => {
            await markDelivery(db, deliveryId, state);
            if (state === "dead-letter") {
              await insertDeadLetter(db, {
                id: `dl_webhook_${deliveryId}`,
                kind: "webhook-delivery",
                referenceId: deliveryId,
                causeCode: "WEBHOOK_RETRIES_EXHAUSTED",
                causeMessage: `${attempts.length} attempts failed; last: ${lastError ?? "no answer"}`,
                payload: { deliveryId, attempts: attempts.length },
              });
              metrics.deadLettered("webhook-delivery");
            }
            metrics.webhookDelivery(state);
            metrics.workflowCompleted("WebhookDeliveryWorkflow", state === "delivered" ? "success" : "terminal_error");
          }, dbRetry);
          const status = publish(state);
          // A delivery that did not land ends its invocation as failed: that is what lets an
          // operator recover the key and replay it (a succeeded workflow cannot be run again).
          if (state !== "delivered") {
            throw new DomainTerminalError(state === "dead-letter" ? "WEBHOOK_RETRIES_EXHAUSTED" : "WEBHOOK_REJECTED", `delivery ${deliveryId} ${state}: ${lastError ?? "no answer"}`);
          }
          return status;
        };

        if (!delivery.enabled) return end("failed", "subscription disabled");
        // A replayed delivery keeps its earlier attempts on record and numbers its own after them;
        // its retry schedule starts over.
        for (let round = 1; ; round++) {
          const attempt = delivery.attemptsBefore + round;
          publish("pending");
          const result = await runStep(
            ctx,
            `attempt-${attempt}`,
            () => attemptDelivery(db, dependencies.transport, { deliveryId, delivery, attempt, timeoutMs: settings.timeoutMs, correlationId: input?.correlationId }),
            dbRetry,
          );
          attempts.push({ attempt: result.attempt, statusCode: result.statusCode, latencyMs: result.latencyMs, error: result.error });
          const verdict = classifyWebhookStatus(result.statusCode);
          const lastError = result.error ?? (result.statusCode === null ? null : `HTTP ${result.statusCode}`);
          if (verdict === "delivered") return end("delivered", null);
          if (verdict === "rejected") return end("failed", lastError);
          const pause = retryDelay(settings.retryScheduleMs, round, ctx.rand.random(), result.retryAfterMs, settings.retryAfterMaxMs);
          if (pause === null) return end("dead-letter", lastError);
          ctx.console.warn("webhook attempt failed; retrying", { deliveryId, attempt, statusCode: result.statusCode, error: result.error, retryInMs: pause });
          await ctx.sleep({ milliseconds: pause });
        }
      },
      status: restate.handlers.workflow.shared(async (ctx: restate.WorkflowSharedContext<State>): Promise<WebhookDeliveryStatus> => {
        return (await ctx.get("status")) ?? { deliveryId: ctx.key, state: "pending", attempts: [] };
      }),
    },
  });
}

export type WebhookDeliveryWorkflow = ReturnType<typeof createWebhookDeliveryWorkflow>;
