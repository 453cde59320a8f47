/**
 * The typed client of asset issuance: validate the request, store it under its issuance id, then
 * start the workflow through Restate ingress, keyed (and so made idempotent) by that id. The same id
 * submitted again attaches to the same issuance; with a different request it is refused and nothing
 * changes.
 *
 * submitIssuance · getIssuanceStatus · waitForIssuance
 */
import * as clients from "@restatedev/restate-sdk-clients";
import type { Database } from "../../../shared/db/client.ts";
import { insertAssetIssuance } from "../../../shared/db/repositories/asset-issuances.ts";
import { ulid } from "../../../shared/ids.ts";
import { CORRELATION_HEADER } from "../../../shared/logger.ts";
import { assetIssuanceWorkflow, type AssetIssuanceWorkflowApi } from "./api.ts";
import { sameRequest } from "./decisions.ts";
import { IssuanceClientError } from "./errors.ts";
import { describeRequestIssues, ISSUANCE_ID_PATTERN, issuanceRequestSchema, type IssuanceRequestInput } from "./request.ts";
import { FINAL_ISSUANCE_STAGES, type IssuanceStatus } from "./types.ts";

export function newIssuanceId(): string {
  return `issuance_${ulid()}`;
}

export type SubmitIssuanceReturnType = { issuanceId: string; invocationId: string; attached: boolean };

export function createAssetIssuanceClient(parameters: { db: Database; ingressUrl: string; headers?: Record<string, string> }) {
  const ingress = clients.connect({ url: parameters.ingressUrl, headers: parameters.headers });
  const workflow = (id: string) => ingress.workflowClient<AssetIssuanceWorkflowApi>(assetIssuanceWorkflow, id);
  const getIssuanceStatus = async (issuanceId: string): Promise<IssuanceStatus> => await workflow(issuanceId).status();

  return {
    submitIssuance: async (issuanceId: string, input: IssuanceRequestInput): Promise<SubmitIssuanceReturnType> => {
      if (!ISSUANCE_ID_PATTERN.test(issuanceId)) {
        throw new IssuanceClientError("INVALID_ISSUANCE_REQUEST", "invalid issuance: issuanceId: must be 1-96 letters, digits, _ or -");
      }
      const parsed = issuanceRequestSchema.safeParse(input);
      if (!parsed.success) {
        throw new IssuanceClientError("INVALID_ISSUANCE_REQUEST", `invalid issuance: ${describeRequestIssues(parsed.error).join("; ")}`);
      }
      const request = parsed.data;
      const { issuance, created } = await insertAssetIssuance(parameters.db, {
        id: issuanceId,
        organizationId: request.organizationId,
        chainId: request.chainId,
        issuerAddress: request.issuer.signerAddress,
        request: JSON.parse(JSON.stringify(request)) as Record<string, unknown>,
      });
      if (!created && !sameRequest(issuance.request, request)) {
        throw new IssuanceClientError("ISSUANCE_ID_REUSED", `issuance ${issuanceId} was submitted before with a different request`);
      }
      // The issuance id is the workflow key: Restate runs `run` once per key, so a second submission attaches.
      const submission = await workflow(issuanceId).workflowSubmit(request, clients.rpc.sendOpts({ headers: { [CORRELATION_HEADER]: issuanceId } }));
      return { issuanceId, invocationId: submission.invocationId, attached: !created };
    },

    getIssuanceStatus,

    waitForIssuance: async (issuanceId: string, options?: { timeoutMs?: number; pollIntervalMs?: number }): Promise<IssuanceStatus> => {
      const deadline = Date.now() + (options?.timeoutMs ?? 120_000);
      for (;;) {
        const status = await getIssuanceStatus(issuanceId);
        if (FINAL_ISSUANCE_STAGES.includes(status.stage)) return status;
        if (Date.now() > deadline) throw new IssuanceClientError("ISSUANCE_WAIT_TIMEOUT", `issuance ${issuanceId} is still ${status.stage}`);
        await new Promise((resolve) => setTimeout(resolve, options?.pollIntervalMs ?? 250));
      }
    },
  };
}

export type AssetIssuanceClient = ReturnType<typeof createAssetIssuanceClient>;
