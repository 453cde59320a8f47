/**
 * A verifying webhook receiver (webhook-receiver.ts) with a subscription of its own in ddwf's
 * database, for tests that check the events a workflow sends. `close` disables the subscription
 * first, so later files' events are never sent to a receiver that is gone.
 */
import type { Database } from "../../shared/db/client.ts";
import { createWebhookSubscription, updateWebhookSubscription } from "../../shared/db/repositories/webhooks.ts";
import { generateWebhookSecret } from "../../shared/webhooks/standard-webhooks.ts";
import { sealedSecrets } from "./webhook-keys.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./webhook-receiver.ts";

export type WebhookSubscriber = {
  receiver: WebhookReceiver;
  subscriptionId: string;
  close(): Promise<void>;
};

export async function subscribeWebhookReceiver(db: Database, eventTypes: readonly string[]): Promise<WebhookSubscriber> {
  const secret = generateWebhookSecret();
  const receiver = await startWebhookReceiver([secret]);
  const subscriptionId = `sub_${crypto.randomUUID().replaceAll("-", "")}`;
  await createWebhookSubscription(db, { id: subscriptionId, url: receiver.url, eventTypes: [...eventTypes], secrets: sealedSecrets(subscriptionId, [secret]) });
  return {
    receiver,
    subscriptionId,
    close: async () => {
      await updateWebhookSubscription(db, subscriptionId, { enabled: false });
      await receiver.close();
    },
  };
}
