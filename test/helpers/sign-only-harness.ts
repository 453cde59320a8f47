/**
 * The sign-only route end to end: a SoftHSM2 token with two keys made by `npm run hsm:key`, three
 * approvers (2 of 3) for each, a worker configured for them the way production is (HSM_TOKEN_LABEL,
 * HSM_PIN, SIGN_ONLY_POLICIES), the DAPI the approvals go through, a deployed ExecutionProbe, and
 * helpers to submit calls and sign approvals.
 */
import { parseEther, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { inject } from "vitest";
import { approvalTypedData, type ApprovalDecision } from "../../shared/signers/approval-signature.ts";
import { startDapiHarness } from "./dapi-harness.ts";
import { createSoftHsmToken } from "./softhsm.ts";
import { startTransactionHarness } from "./transaction-harness.ts";

/** How long the short-lived policy's approvals wait before they expire. */
export const SHORT_EXPIRY_SECONDS = 3;

export async function startSignOnlyHarness(options: { name: string }) {
  const stack = inject("stack");
  const token = await createSoftHsmToken();
  const signer = await token.newKey("sign-only-signer");
  const shortLived = await token.newKey("sign-only-short-lived");
  const approvers: PrivateKeyAccount[] = [0, 1, 2].map(() => privateKeyToAccount(generatePrivateKey()));
  const outsider = privateKeyToAccount(generatePrivateKey());
  const policy = (expiresAfterSeconds: number) => ({ approvers: approvers.map((approver) => approver.address), threshold: 2, expiresAfterSeconds });
  const h = await startTransactionHarness({
    senders: 1,
    name: options.name,
    env: { ...token.env, SIGN_ONLY_POLICIES: JSON.stringify({ [signer]: policy(600), [shortLived]: policy(SHORT_EXPIRY_SECONDS) }) },
  });
  for (const address of [signer, shortLived]) await h.tools.client.setBalance({ address, value: parseEther("10") });
  const dapi = await startDapiHarness();
  const { probe, pokeData } = await h.deployProbe();

  /** Submits `poke(tag)` on the probe from an HSM key through the sign-only route; answers the id. */
  const submit = async (tag: number, from: Hex = signer): Promise<string> => {
    const transactionId = h.newTransactionId();
    await h.client.submitTransaction({
      transactionId,
      organizationId: h.organizationId,
      chainId: stack.chainId,
      signerAddress: from,
      target: probe,
      data: pokeData(tag),
      executor: { route: "sign-only", provider: "hsm" },
    });
    return transactionId;
  };

  /** `account`'s EIP-712 signature of `decision` on `poke(tag)`'s transaction. */
  const sign = (account: PrivateKeyAccount, transactionId: string, tag: number, decision: ApprovalDecision) =>
    account.signTypedData(approvalTypedData({ transactionId, chainId: stack.chainId, target: probe, data: pokeData(tag), value: "0" }, decision));

  /** Hands a decision in through the DAPI (by default signed by the approver it names). */
  const decide = async (
    transactionId: string,
    tag: number,
    approver: PrivateKeyAccount,
    decision: ApprovalDecision = "approve",
    options?: { signedBy?: PrivateKeyAccount },
  ) => {
    const signature = await sign(options?.signedBy ?? approver, transactionId, tag, decision);
    return dapi.call<{ code?: string; data?: { field?: string }; counted?: boolean }>("POST", `/api/v2/admin/operator/transactions/${transactionId}/approvals`, {
      approver: approver.address,
      decision,
      signature,
    });
  };

  /** The signer's transactions in mined blocks from `fromBlock` on. */
  const minedFrom = (address: Hex, fromBlock: bigint) => h.tools.minedTransactionsOf(address, fromBlock);
  const pendingNonce = (address: Hex) => h.tools.client.getTransactionCount({ address, blockTag: "pending" });

  return {
    ...h,
    dapi,
    signer,
    shortLived,
    approvers,
    outsider,
    probe,
    pokeData,
    submit,
    decide,
    minedFrom,
    pendingNonce,
    stop: async () => {
      await dapi.close();
      await h.stop();
    },
  };
}

export type SignOnlyHarness = Awaited<ReturnType<typeof startSignOnlyHarness>>;
