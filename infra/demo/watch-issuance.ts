/**
 * `npm run demo:issuance -- <issuanceId>`: follows an asset issuance through Restate ingress, one
 * line per change of stage or step, and prints its final status.
 */
import * as clients from "@restatedev/restate-sdk-clients";
import { loadConfig } from "../../shared/config.ts";
import { assetIssuanceWorkflow, FINAL_ISSUANCE_STAGES, type AssetIssuanceWorkflowApi, type IssuanceStatus } from "../../services/workflows/asset-issuance/api.ts";

const issuanceId = process.argv[2];
if (!issuanceId) {
  console.error("usage: npm run demo:issuance -- <issuanceId>");
  process.exit(64);
}
const config = loadConfig(process.env);
const workflow = clients.connect({ url: config.RESTATE_INGRESS_URL }).workflowClient<AssetIssuanceWorkflowApi>(assetIssuanceWorkflow, issuanceId);
let shown = "";
let status: IssuanceStatus;
for (;;) {
  status = await workflow.status();
  const line = `${status.stage}  ${status.steps.map((s) => `${s.step}:${s.outcome}`).join(" ")}`;
  if (line !== shown) console.log(line);
  shown = line;
  if (FINAL_ISSUANCE_STAGES.includes(status.stage)) break;
  await new Promise((resolve) => setTimeout(resolve, 500));
}
console.log(JSON.stringify(status, null, 2));
