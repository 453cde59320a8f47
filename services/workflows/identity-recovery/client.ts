/**
 * The typed client for identity recovery: open an invitation (stored, then its workflow started
 * through ingress), deliver the investor's acceptance, cancel, read the status.
 */
import * as clients from "@restatedev/restate-sdk-clients";
import { z } from "zod";
import type { Database } from "../../../shared/db/client.ts";
import { createRecoveryInvitation, getRecoveryInvitation } from "../../../shared/db/repositories/recovery-invitations.ts";
import { DomainError } from "../../../shared/errors.ts";
import { INVITATION_ID_PATTERN, newInvitationId } from "../../../shared/ids.ts";
import type { AcceptRequest, IdentityRecoveryWorkflowApi, RecoveryStatus } from "./api.ts";

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 20-byte hex address");

export const openInvitationParameters = z
  .object({
    invitationId: z.string().regex(INVITATION_ID_PATTERN, "must be invitation_ followed by a ULID").optional(),
    organizationId: z.string().min(1).max(128),
    chainId: z.number().int().positive(),
    registryAddress: address,
    lostWallet: address,
    tokens: z.array(address).max(50),
    agentAddress: address,
    expiresAt: z.date(),
  })
  .strict();

export type OpenInvitationParameters = z.input<typeof openInvitationParameters>;

export class RecoveryClientError extends DomainError<"INVALID_INVITATION_REQUEST" | "RECOVERY_WAIT_TIMEOUT"> {
  override name = "RecoveryClientError";
}

const FINAL_STAGES = new Set(["completed", "expired", "cancelled", "failed-compensated", "failed-needs-operator"]);

export function createIdentityRecoveryClient(parameters: { db: Database; ingressUrl: string; headers?: Record<string, string> }) {
  const ingress = clients.connect({ url: parameters.ingressUrl, headers: parameters.headers });
  const workflow = (id: string) => ingress.workflowClient<IdentityRecoveryWorkflowApi>({ name: "IdentityRecoveryWorkflow" }, id);

  const getRecoveryStatus = async (invitationId: string): Promise<RecoveryStatus> => await workflow(invitationId).status();

  return {
    openInvitation: async (input: OpenInvitationParameters): Promise<{ invitationId: string; invocationId: string }> => {
      const parsed = openInvitationParameters.safeParse(input);
      if (!parsed.success) {
        const fields = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(request)"}: ${issue.message}`);
        throw new RecoveryClientError("INVALID_INVITATION_REQUEST", `invalid invitation: ${fields.join("; ")}`);
      }
      const request = parsed.data;
      const invitationId = request.invitationId ?? newInvitationId();
      if (!(await getRecoveryInvitation(parameters.db, invitationId))) {
        await createRecoveryInvitation(parameters.db, {
          id: invitationId,
          organizationId: request.organizationId,
          chainId: request.chainId,
          registryAddress: request.registryAddress.toLowerCase(),
          lostWallet: request.lostWallet.toLowerCase(),
          tokens: request.tokens.map((token) => token.toLowerCase()),
          agentAddress: request.agentAddress.toLowerCase(),
          expiresAt: request.expiresAt,
        });
      }
      const submission = await workflow(invitationId).workflowSubmit();
      return { invitationId, invocationId: submission.invocationId };
    },
    acceptInvitation: (invitationId: string, acceptance: AcceptRequest) => workflow(invitationId).accept(acceptance),
    cancelInvitation: (invitationId: string, reason: string) => workflow(invitationId).cancel({ reason }),
    getRecoveryStatus,
    waitForRecovery: async (invitationId: string, options?: { timeoutMs?: number }): Promise<RecoveryStatus> => {
      const deadline = Date.now() + (options?.timeoutMs ?? 120_000);
      for (;;) {
        const status = await getRecoveryStatus(invitationId);
        if (FINAL_STAGES.has(status.stage)) return status;
        if (Date.now() > deadline) throw new RecoveryClientError("RECOVERY_WAIT_TIMEOUT", `invitation ${invitationId} is still ${status.stage}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
  };
}

export type IdentityRecoveryClient = ReturnType<typeof createIdentityRecoveryClient>;
