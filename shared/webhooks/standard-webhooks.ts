/**
 * Signing by the Standard Webhooks convention: headers `webhook-id`, `webhook-timestamp` (seconds)
 * and `webhook-signature`, the latter `v1,<base64 HMAC-SHA256>` of `${id}.${timestamp}.${body}`
 * keyed by the base64 bytes after `whsec_`. Several active secrets (a rotation) give several
 * space-separated signatures; the receiver accepts any that matches.
 */
import { createHmac, randomBytes } from "node:crypto";

export const WEBHOOK_SECRET_PREFIX = "whsec_";

export function generateWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString("base64")}`;
}

export function isWebhookSecret(value: string): boolean {
  if (!value.startsWith(WEBHOOK_SECRET_PREFIX)) return false;
  const key = Buffer.from(value.slice(WEBHOOK_SECRET_PREFIX.length), "base64");
  return key.length >= 24;
}

export function signWebhook(parameters: { id: string; timestampSeconds: number; body: string; secrets: readonly string[] }): string {
  if (parameters.secrets.length === 0) throw new Error("a webhook needs at least one secret");
  return parameters.secrets
    .map((secret) => {
      if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) throw new Error("webhook secrets start with whsec_");
      const key = Buffer.from(secret.slice(WEBHOOK_SECRET_PREFIX.length), "base64");
      const mac = createHmac("sha256", key).update(`${parameters.id}.${parameters.timestampSeconds}.${parameters.body}`).digest("base64");
      return `v1,${mac}`;
    })
    .join(" ");
}

export function webhookHeaders(parameters: { id: string; timestampSeconds: number; body: string; secrets: readonly string[] }): Record<string, string> {
  return {
    "content-type": "application/json",
    "webhook-id": parameters.id,
    "webhook-timestamp": String(parameters.timestampSeconds),
    "webhook-signature": signWebhook(parameters),
  };
}
