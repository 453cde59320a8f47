/**
 * `npm run webhooks:reseal`: re-seals every stored webhook secret with the first key of
 * WEBHOOK_SECRET_KEYS (the middle step of a key rotation, see README "Webhooks"), and seals any
 * secret still stored in clear. The database is the one of the configuration.
 */
import { ConfigError, loadConfig } from "../../shared/config.ts";
import { openMigratedDatabase } from "../../shared/db/open-migrated-database.ts";
import { createWebhookSecretBox } from "../../shared/webhooks/secret-box.ts";
import { resealWebhookSecrets } from "../webhooks/reseal.ts";

let config;
try {
  config = loadConfig(process.env);
} catch (error) {
  process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
  process.exit(78);
}
if (!config.WEBHOOK_SECRET_KEYS) {
  process.stderr.write("WEBHOOK_SECRET_KEYS is not set: there is no key to seal with\n");
  process.exit(78);
}
const database = await openMigratedDatabase({ ...config, DATABASE_POOL_SIZE: 2 });
try {
  const report = await resealWebhookSecrets(database.db, createWebhookSecretBox(config.WEBHOOK_SECRET_KEYS));
  process.stdout.write(
    `re-sealed ${report.resealed} secret(s) and sealed ${report.sealedFromClear} stored in clear, in ${report.subscriptions} subscription(s), with key "${config.WEBHOOK_SECRET_KEYS.current}"\n`,
  );
} finally {
  await database.close();
}
