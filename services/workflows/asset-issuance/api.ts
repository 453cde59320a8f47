/** What callers may know of AssetIssuanceWorkflow: its name and its types, not its code. */
import type { AssetIssuanceWorkflow } from "./workflow.ts";

export type AssetIssuanceWorkflowApi = AssetIssuanceWorkflow;
export type AssetIssuanceWorkflowDefinition = Pick<AssetIssuanceWorkflowApi, "name">;
export const assetIssuanceWorkflow: AssetIssuanceWorkflowDefinition = { name: "AssetIssuanceWorkflow" };

export type { IssuanceRequest, IssuanceRequestInput } from "./request.ts";
export type { InvestorReading, IssuanceError, IssuanceStage, IssuanceStatus, IssuanceStep, NoticeOutcome } from "./types.ts";
export { FINAL_ISSUANCE_STAGES, ISSUANCE_EVENT_TYPES, ISSUANCE_STAGES } from "./types.ts";
