/**
 * Re-seals every stored webhook secret with the first key of WEBHOOK_SECRET_KEYS: secrets sealed
 * with an older key (after a key rotation) and secrets still stored in clear (before encryption at
 * rest). Run by `npm run webhooks:reseal`; safe to run again (it changes only what needs it).
 */
import { listWebhookSubscriptions, updateWebhookSubscription } from "../../shared/db/repositories/webhooks.ts";
import type { Database } from "../../shared/db/client.ts";
import type { WebhookSecret } from "../../shared/db/schema/index.ts";
import type { WebhookSecretBox } from "../../shared/webhooks/secret-box.ts";

export type ResealReport = { subscriptions: number; resealed: number; sealedFromClear: number };

export async function resealWebhookSecrets(db: Database, box: WebhookSecretBox): Promise<ResealReport> {
  const report: ResealReport = { subscriptions: 0, resealed: 0, sealedFromClear: 0 };
  for (const subscription of await listWebhookSubscriptions(db)) {
    let changed = false;
    const secrets: WebhookSecret[] = subscription.secrets.map(({ secret, ciphertext, ...times }) => {
      if (ciphertext !== undefined && !box.needsReseal(ciphertext)) return { ciphertext, ...times };
      changed = true;
      if (ciphertext === undefined) report.sealedFromClear++;
      else report.resealed++;
      const plaintext = ciphertext === undefined ? (secret ?? "") : box.open(ciphertext, subscription.id);
      return { ciphertext: box.seal(plaintext, subscription.id), ...times };
    });
    if (changed) {
      await updateWebhookSubscription(db, subscription.id, { secrets });
      report.subscriptions++;
    }
  }
  return report;
}
