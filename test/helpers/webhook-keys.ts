/**
 * The webhook key ring of the test stack (WEBHOOK_SECRET_KEYS of every worker and DAPI a test
 * starts), and sealing with it for tests that store subscriptions directly.
 */
import type { WebhookSecret } from "../../shared/db/schema/index.ts";
import { createWebhookSecretBox, parseSecretKeyRing } from "../../shared/webhooks/secret-box.ts";

export const TEST_WEBHOOK_SECRET_KEYS = `test-1:${Buffer.alloc(32, 7).toString("base64")}`;
export const testWebhookKeyRing = parseSecretKeyRing(TEST_WEBHOOK_SECRET_KEYS);
export const testSecretBox = createWebhookSecretBox(testWebhookKeyRing);

/** Stored secrets of a subscription, sealed as the DAPI stores them. */
export function sealedSecrets(subscriptionId: string, plaintexts: readonly string[]): WebhookSecret[] {
  return plaintexts.map((secret) => ({ ciphertext: testSecretBox.seal(secret, subscriptionId), createdAt: new Date().toISOString() }));
}
