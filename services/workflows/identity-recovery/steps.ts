/** Side effects of IdentityRecoveryWorkflow; each runs inside one journaled step. */
import { getAddress, isAddress, isHex, verifyMessage, type Hex } from "viem";
import type { Database } from "../../../shared/db/client.ts";
import { getRecoveryInvitation, setRecoveryInvitationStatus } from "../../../shared/db/repositories/recovery-invitations.ts";
import type { ChainAccess } from "../../../shared/evm/chain-access.ts";
import { permissionedTokenAbi } from "../../../shared/evm/contracts/identity-recovery-abi.ts";
import { acceptanceMessage, type AcceptRequest, type RecoveryStatus } from "./api.ts";

/** The invitation as plain JSON for the journal. */
export type LoadedInvitation = {
  organizationId: string;
  chainId: number;
  registryAddress: Hex;
  lostWallet: Hex;
  tokens: Hex[];
  agentAddress: Hex;
  expiresAt: number;
  status: string;
};

export async function loadInvitation(db: Database, invitationId: string): Promise<LoadedInvitation | null> {
  const row = await getRecoveryInvitation(db, invitationId);
  if (!row) return null;
  return {
    organizationId: row.organizationId,
    chainId: row.chainId,
    registryAddress: getAddress(row.registryAddress),
    lostWallet: getAddress(row.lostWallet),
    tokens: row.tokens.map((token) => getAddress(token)),
    agentAddress: getAddress(row.agentAddress),
    expiresAt: row.expiresAt.getTime(),
    status: row.status,
  };
}

/** Checks the acceptance: a well-formed new wallet, not the lost one, and its signature over the invitation. */
export async function verifyAcceptance(
  invitationId: string,
  invitation: LoadedInvitation,
  request: AcceptRequest,
): Promise<{ valid: true } | { valid: false; reason: string }> {
  if (typeof request?.newWallet !== "string" || !isAddress(request.newWallet)) return { valid: false, reason: "newWallet must be a 20-byte hex address" };
  if (typeof request.signature !== "string" || !isHex(request.signature)) return { valid: false, reason: "signature must be 0x-prefixed hex" };
  if (getAddress(request.newWallet) === invitation.lostWallet) return { valid: false, reason: "newWallet must differ from the lost wallet" };
  const valid = await verifyMessage({
    address: getAddress(request.newWallet),
    message: acceptanceMessage(invitationId, request.newWallet),
    signature: request.signature,
  }).catch(() => false);
  return valid ? { valid: true } : { valid: false, reason: "signature does not prove control of newWallet for this invitation" };
}

export async function readTokenBalance(chain: ChainAccess, token: Hex, wallet: Hex): Promise<string> {
  const balance = await chain.client.readContract({ address: token, abi: permissionedTokenAbi, functionName: "balanceOf", args: [wallet] });
  return balance.toString();
}

const FINAL_STATUS: Record<string, "completed" | "expired" | "cancelled" | "failed"> = {
  completed: "completed",
  expired: "expired",
  cancelled: "cancelled",
  "failed-compensated": "failed",
  "failed-needs-operator": "failed",
};

export async function finishInvitation(db: Database, invitationId: string, status: RecoveryStatus): Promise<void> {
  const final = FINAL_STATUS[status.stage];
  if (!final) throw new Error(`stage ${status.stage} is not final`);
  await setRecoveryInvitationStatus(db, invitationId, {
    status: final,
    ...(status.newWallet ? { newWallet: status.newWallet } : {}),
    outcome: { stage: status.stage, steps: status.steps, compensation: status.compensation, error: status.error },
  });
}
