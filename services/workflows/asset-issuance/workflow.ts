/**
 * AssetIssuanceWorkflow, keyed by the issuance id: a token issued to its first investors on chain,
 * or a clear end with nothing half-issued left unhandled.
 *
 * Steps (each journaled; every chain write is a child TransactionExecutionWorkflow whose transaction
 * id is `<issuanceId>-<step>`, so a replay or a second submission never sends it twice):
 *  1. record-request             store the request, or find the same one stored (another one: refused)
 *  2. checking-eligibility       read every investor's identity and jurisdiction from the registry;
 *                                an ineligible investor ends the issuance `failed`, nothing deployed
 *  3. deploying                  `deploy`: contract creation of the AssetToken (which creates its
 *                                compliance contract); the address comes from the receipt
 *  4. configuring-compliance     `compliance`: holder limit and allowed jurisdictions
 *  5. minting                    `mint-<i>`: one mint per allocation, each checked by the compliance rules
 *  6. registering                `register`: the token registered with the identity registry
 *  7. completed                  a notice to every investor and to the issuer
 * Every stage entered is a webhook event `asset-issuance.<stage>`.
 * Compensation: once deployed, a permanent failure of any later step pauses the token (`pause`),
 * notifies every investor and the issuer, and ends `failed-compensated`. When the pause fails too,
 * the issuance ends `failed-needs-operator` with a dead letter listing what is on chain, what never
 * ran and what is left to do. A failure before deployment ends `failed`: nothing to undo.
 */
import { schemaSerde } from "../../../shared/restate/schema-serde.ts";
import { countRefusedInput } from "../../../shared/telemetry/count-refused-input.ts";
import { issuanceStatusSchema } from "./schemas.ts";
import * as restate from "@restatedev/restate-sdk";
import { errorCodeOf } from "../../../shared/errors.ts";
import { createSaga, type Saga } from "../../../shared/restate/saga.ts";
import { OUTAGE_TOLERANT_RETRY_POLICY, runStep, stepRetryPolicies } from "../../../shared/restate/step-retry.ts";
import { configureComplianceWrite, deployTokenWrite, mintWrite, pauseTokenWrite, registerTokenWrite } from "./calls.ts";
import { describeIneligible, ineligibleInvestors, noticesFor, operatorReport } from "./decisions.ts";
import { issuanceTerminalError } from "./errors.ts";
import { createIssuanceProgress, initialStatus, UNTIL_DONE, type IssuanceContext, type IssuanceProgress, type IssuanceState } from "./progress.ts";
import { issuanceRequestSchema, type IssuanceRequest } from "./request.ts";
import type { AssetIssuanceSteps } from "./steps.ts";
import type { IssuanceStatus } from "./types.ts";

/** Registry reads before anything is deployed: a long outage ends the issuance with nothing on chain. */
const BEFORE_DEPLOYMENT = stepRetryPolicies.bounded(300_000);

export function createAssetIssuanceWorkflow(steps: AssetIssuanceSteps, metrics: { workflowCompleted(workflowType: string, outcome: "terminal_error"): void }) {
  return restate.workflow({
    name: "AssetIssuanceWorkflow",
    options: { retryPolicy: OUTAGE_TOLERANT_RETRY_POLICY },
    handlers: {
      run: restate.handlers.workflow.workflow(
        { input: schemaSerde(issuanceRequestSchema, "input"), output: schemaSerde(issuanceStatusSchema, "output"), hooks: [countRefusedInput(metrics, "AssetIssuanceWorkflow")] },
        async (ctx: IssuanceContext, request: IssuanceRequest): Promise<IssuanceStatus> => {
          const issuance = createIssuanceProgress(ctx, request, steps);
          await recordRequest(ctx, request, steps, issuance);
          await checkEligibility(ctx, request, steps, issuance);
          const deployTxHash = await deployToken(request, issuance);

          const saga = createSaga();
          saga.onFailure("pause", () => pauseToken(issuance));
          try {
            const { token, compliance } = await runStep(ctx, "read-deployment", () => steps.readDeployment(request.chainId, deployTxHash), UNTIL_DONE);
            await issuance.enter("configuring-compliance", { tokenAddress: token, complianceAddress: compliance });
            await issuance.write(configureComplianceWrite(request, compliance));
            await issuance.enter("minting");
            for (const index of request.allocations.keys()) await issuance.write(mintWrite(request, index, token));
            await issuance.enter("registering");
            await issuance.write(registerTokenWrite(request, token));
          } catch (error) {
            if (!(error instanceof restate.TerminalError)) throw error;
            return await compensate(ctx, request, steps, issuance, saga, error);
          }
          await issuance.enter("completed", {}, noticesFor(request, { ...issuance.status(), stage: "completed" }, "issued"));
          return issuance.status();
        },
      ),

      status: restate.handlers.workflow.shared(
        { output: schemaSerde(issuanceStatusSchema, "output") },
        async (ctx: restate.WorkflowSharedContext<IssuanceState>): Promise<IssuanceStatus> => (await ctx.get("status")) ?? initialStatus(ctx.key),
      ),
    },
  });
}

/** The same id with another request is refused; the same request again goes on where it was. */
async function recordRequest(ctx: IssuanceContext, request: IssuanceRequest, steps: AssetIssuanceSteps, issuance: IssuanceProgress): Promise<void> {
  const recorded = await runStep(ctx, "record-request", () => steps.recordRequest(ctx.key, request), UNTIL_DONE);
  if (recorded === "different") {
    const error = issuanceTerminalError("ISSUANCE_ID_REUSED", `issuance ${ctx.key} was submitted before with a different request`);
    issuance.update({ stage: "failed", error: { code: error.domainCode, message: error.message } });
    throw error;
  }
}

async function checkEligibility(ctx: IssuanceContext, request: IssuanceRequest, steps: AssetIssuanceSteps, issuance: IssuanceProgress): Promise<void> {
  await issuance.enter("checking-eligibility");
  try {
    const readings = await runStep(ctx, "read-investors", () => steps.readInvestors(request), BEFORE_DEPLOYMENT);
    const refused = ineligibleInvestors(readings, request.compliance.allowedJurisdictions);
    if (refused.length > 0) throw issuanceTerminalError("INVESTOR_NOT_ELIGIBLE", describeIneligible(refused));
  } catch (error) {
    if (!(error instanceof restate.TerminalError)) throw error;
    await issuance.enter("failed", { error: { code: errorCodeOf(error) ?? "ELIGIBILITY_CHECK_FAILED", message: error.message } });
    throw error;
  }
}

/** The contract creation; a failure here leaves nothing on chain to undo. Returns the deployment's hash. */
async function deployToken(request: IssuanceRequest, issuance: IssuanceProgress): Promise<`0x${string}`> {
  await issuance.enter("deploying");
  try {
    const deployed = await issuance.write(deployTokenWrite(request));
    if (!deployed.txHash) throw issuanceTerminalError("DEPLOYMENT_WITHOUT_CONTRACT", "the deployment completed without a transaction hash");
    return deployed.txHash;
  } catch (error) {
    if (!(error instanceof restate.TerminalError)) throw error;
    const failure = { code: errorCodeOf(error) ?? "DEPLOYMENT_FAILED", message: error.message };
    await issuance.enter("failed", { error: failure });
    throw issuanceTerminalError("ISSUANCE_FAILED", `the token was not deployed: ${failure.message}`);
  }
}

/** The compensation: pause the token. Without its address (the receipt was never read) it cannot be done here. */
async function pauseToken(issuance: IssuanceProgress): Promise<void> {
  const token = issuance.status().tokenAddress;
  if (!token) throw issuanceTerminalError("DEPLOYMENT_WITHOUT_CONTRACT", "the token's address is unknown, so it cannot be paused here");
  await issuance.write(pauseTokenWrite(token));
}

/** After deployment: pause, notify everyone, and end `failed-compensated` or `failed-needs-operator`. */
async function compensate(
  ctx: IssuanceContext,
  request: IssuanceRequest,
  steps: AssetIssuanceSteps,
  issuance: IssuanceProgress,
  saga: Saga,
  error: restate.TerminalError,
): Promise<never> {
  const failure = { code: errorCodeOf(error) ?? "ISSUANCE_STEP_FAILED", message: error.message };
  ctx.console.error("issuance step failed after deployment; compensating", { issuanceId: ctx.key, error: failure });
  await issuance.enter("compensating", { error: failure });
  const compensation = await saga.compensate();
  if (compensation.kind === "compensated") {
    const final = { ...issuance.status(), stage: "failed-compensated" as const, compensation };
    await issuance.enter("failed-compensated", { compensation }, noticesFor(request, final, "compensated"));
    throw issuanceTerminalError("ISSUANCE_FAILED_COMPENSATED", `issuance failed (${failure.message}); the token is paused and everyone notified`);
  }
  const final = { ...issuance.status(), stage: "failed-needs-operator" as const, compensation };
  await runStep(ctx, "dead-letter", () => steps.fileDeadLetter(operatorReport(request, final, compensation)), UNTIL_DONE);
  await issuance.enter("failed-needs-operator", { compensation }, noticesFor(request, final, "needs-operator"));
  throw issuanceTerminalError("ISSUANCE_NEEDS_OPERATOR", `issuance failed (${failure.message}) and the pause failed too: ${compensation.failed.error}`);
}

export type AssetIssuanceWorkflow = ReturnType<typeof createAssetIssuanceWorkflow>;
