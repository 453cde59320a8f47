/**
 * Side effects of AssetIssuanceWorkflow, built from its dependencies; each runs inside one journaled
 * step of the workflow, so each returns plain JSON and may be retried.
 */
import { getAddress, type Hex } from "viem";
import type { Database } from "../../../shared/db/client.ts";
import { insertAssetIssuance, recordAssetIssuanceStage } from "../../../shared/db/repositories/asset-issuances.ts";
import { insertDeadLetter } from "../../../shared/db/repositories/dead-letters.ts";
import type { ChainAccess, ChainRegistry } from "../../../shared/evm/chain-access.ts";
import { assetTokenAbi, identityRegistryAbi } from "../../../shared/evm/contracts/asset-issuance-artifacts.ts";
import { storeWebhookDeliveries, type EventToEmit } from "../webhook-delivery/emit-event.ts";
import { sameRequest, type OperatorReport } from "./decisions.ts";
import { issuanceTerminalError } from "./errors.ts";
import type { IssuanceRequest } from "./request.ts";
import { FINAL_ISSUANCE_STAGES, type InvestorReading, type IssuanceStatus } from "./types.ts";

export type AssetIssuanceStepsDependencies = {
  db: Database;
  chains: ChainRegistry;
  metrics: {
    workflowCompleted(workflowType: string, outcome: "success" | "terminal_error"): void;
    deadLettered(kind: string): void;
  };
};

export function createAssetIssuanceSteps(dependencies: AssetIssuanceStepsDependencies) {
  const { db, metrics } = dependencies;
  const chainOf = (chainId: number): ChainAccess => {
    const chain = dependencies.chains.get(chainId);
    if (!chain) throw issuanceTerminalError("CHAIN_NOT_CONFIGURED", `chain ${chainId} is not configured on this worker`);
    return chain;
  };

  return {
    /** Stores the request under its id, or finds it stored; `different` when the id was used for another request. */
    recordRequest: async (issuanceId: string, request: IssuanceRequest): Promise<"stored" | "same" | "different"> => {
      const { issuance, created } = await insertAssetIssuance(db, {
        id: issuanceId,
        organizationId: request.organizationId,
        chainId: request.chainId,
        issuerAddress: request.issuer.signerAddress,
        request: JSON.parse(JSON.stringify(request)) as Record<string, unknown>,
      });
      if (created) return "stored";
      if (sameRequest(issuance.request, request)) return "same";
      // The run ends here, refused: counted in this step, last.
      metrics.workflowCompleted("AssetIssuanceWorkflow", "terminal_error");
      return "different";
    },

    /** Reads every investor's identity and jurisdiction from the registry. */
    readInvestors: async (request: IssuanceRequest): Promise<InvestorReading[]> => {
      const chain = chainOf(request.chainId);
      const code = await chain.client.getCode({ address: request.identityRegistry });
      if (code === undefined || code === "0x") {
        throw issuanceTerminalError("REGISTRY_HAS_NO_CODE", `identity registry ${request.identityRegistry} has no contract code on chain ${request.chainId}`);
      }
      const read = (functionName: "isVerified" | "countryOf", investor: Hex) =>
        chain.client.readContract({ address: request.identityRegistry, abi: identityRegistryAbi, functionName, args: [investor] });
      return Promise.all(
        request.allocations.map(async ({ investor }) => {
          const [verified, country] = await Promise.all([read("isVerified", investor), read("countryOf", investor)]);
          return { investor, verified: verified as boolean, country: Number(country) };
        }),
      );
    },

    /** The token the deployment created (from its receipt) and the compliance contract the token created. */
    readDeployment: async (chainId: number, txHash: Hex): Promise<{ token: Hex; compliance: Hex }> => {
      const chain = chainOf(chainId);
      const receipt = await chain.client.getTransactionReceipt({ hash: txHash });
      if (!receipt.contractAddress) {
        throw issuanceTerminalError("DEPLOYMENT_WITHOUT_CONTRACT", `the receipt of ${txHash} names no created contract`);
      }
      const token = getAddress(receipt.contractAddress);
      const compliance = await chain.client.readContract({ address: token, abi: assetTokenAbi, functionName: "compliance" });
      return { token: token.toLowerCase() as Hex, compliance: compliance.toLowerCase() as Hex };
    },

    /**
     * Records the stage an issuance entered and stores the deliveries of its events; a final stage
     * also stores the outcome and is counted, last, so a retried step counts once.
     */
    recordStage: async (issuanceId: string, status: IssuanceStatus, events: EventToEmit[]): Promise<string[]> => {
      const final = FINAL_ISSUANCE_STAGES.includes(status.stage);
      await recordAssetIssuanceStage(db, issuanceId, {
        stage: status.stage,
        tokenAddress: status.tokenAddress,
        ...(final ? { outcome: { steps: status.steps, compensation: status.compensation, error: status.error } } : {}),
      });
      const deliveryIds: string[] = [];
      for (const event of events) deliveryIds.push(...(await storeWebhookDeliveries(db, event)));
      if (final) metrics.workflowCompleted("AssetIssuanceWorkflow", status.stage === "completed" ? "success" : "terminal_error");
      return deliveryIds;
    },

    /** Files the dead letter of an issuance whose compensation failed. */
    fileDeadLetter: async (report: OperatorReport): Promise<void> => {
      const failed = report.compensation.kind === "needs-operator" ? report.compensation.failed : null;
      await insertDeadLetter(db, {
        id: `dl_issuance_${report.issuanceId}`,
        kind: "asset-issuance",
        referenceId: report.issuanceId,
        causeCode: "COMPENSATION_FAILED",
        causeMessage: failed ? `compensation ${failed.step} failed: ${failed.error}` : "compensation failed",
        payload: report as unknown as Record<string, unknown>,
      });
      metrics.deadLettered("asset-issuance");
    },
  };
}

export type AssetIssuanceSteps = ReturnType<typeof createAssetIssuanceSteps>;
