/**
 * `npm run demo:accept -- <invitationId>`: plays the investor of the demo. A new wallet is created,
 * signs the acceptance, and the recovery is followed to its end through Restate ingress.
 */
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import * as clients from "@restatedev/restate-sdk-clients";
import { loadConfig } from "../../shared/config.ts";
import { acceptanceMessage, type IdentityRecoveryWorkflowApi, type RecoveryStatus } from "../../services/workflows/identity-recovery/api.ts";

const invitationId = process.argv[2];
if (!invitationId) {
  console.error("usage: npm run demo:accept -- <invitationId>");
  process.exit(64);
}
const config = loadConfig(process.env);
const investor = privateKeyToAccount(generatePrivateKey());
const workflow = clients.connect({ url: config.RESTATE_INGRESS_URL }).workflowClient<IdentityRecoveryWorkflowApi>({ name: "IdentityRecoveryWorkflow" }, invitationId);
console.log(`new wallet ${investor.address} accepts ${invitationId}`);
await workflow.accept({ newWallet: investor.address, signature: await investor.signMessage({ message: acceptanceMessage(invitationId, investor.address) }) });
let status: RecoveryStatus;
for (;;) {
  status = await workflow.status();
  if (!["waiting-for-acceptance", "recovering-identity", "moving-balances"].includes(status.stage)) break;
  await new Promise((resolve) => setTimeout(resolve, 500));
}
console.log(JSON.stringify(status, null, 2));
