/**
 * The smart-wallet route end to end: a real alto bundler on the suite's anvil (test/helpers/bundler.ts),
 * a worker with BUNDLER_URL pointing at it, the DAPI the owners' signatures go through, a deployed
 * ExecutionProbe, and 2-of-3 Safe accounts whose owners are local keys.
 */
import { encodeFunctionData, parseEther, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import { inject } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { predictSafeAddress, readProxyCreationCode, safeOperationTypedData } from "../../shared/evm/erc4337/safe-account.ts";
import { approvalTypedData } from "../../shared/signers/approval-signature.ts";
import type { ExecutorSelection } from "../../shared/signers/executor-selection.ts";
import { unsignedOf } from "../../services/workflows/transaction-execution/smart-wallet-steps.ts";
import { bundlerRpc, startTestBundler } from "./bundler.ts";
import { startDapiHarness } from "./dapi-harness.ts";
import { startTransactionHarness } from "./transaction-harness.ts";

export type SmartAccount = { address: Hex; owners: PrivateKeyAccount[]; saltNonce: string };

export async function startSmartWalletHarness(options: { name: string; bundleMode?: "auto" | "manual"; env?: Record<string, string> }) {
  const stack = inject("stack");
  const bundler = await startTestBundler(stack, { name: `${options.name}-alto`, ...(options.bundleMode ? { bundleMode: options.bundleMode } : {}) });
  const h = await startTransactionHarness({ senders: 1, name: options.name, env: { BUNDLER_URL: bundler.url, SMART_WALLET_BLOCKED_RETRY_MAX_MS: "1000", ...options.env } });
  const dapi = await startDapiHarness();
  const { contract, probe, pokeData } = await h.deployProbe();
  const failData = (reason: string): Hex => encodeFunctionData({ abi: contract.abi, functionName: "fail", args: [reason] });
  const proxyCreationCode = await readProxyCreationCode(h.tools.client);

  /** A new 2-of-3 account (not deployed), funded so it pays for its operations. */
  const newAccount = async (): Promise<SmartAccount> => {
    const owners = [0, 1, 2].map(() => privateKeyToAccount(generatePrivateKey()));
    const saltNonce = String(BigInt(`0x${crypto.randomUUID().replaceAll("-", "")}`));
    const address = predictSafeAddress({ owners: owners.map((owner) => owner.address), threshold: 2, saltNonce: BigInt(saltNonce), proxyCreationCode });
    await h.tools.client.setBalance({ address, value: parseEther("10") });
    return { address: address.toLowerCase() as Hex, owners, saltNonce };
  };

  const selectionOf = (account: SmartAccount): ExecutorSelection => ({
    route: "smart-wallet",
    wallet: account.address,
    threshold: 2,
    account: { owners: account.owners.map((owner) => owner.address), saltNonce: account.saltNonce },
  });

  /** Submits a call from the account through the smart-wallet route; answers the transaction id. */
  const submit = async (account: SmartAccount, data: Hex): Promise<string> => {
    const transactionId = h.newTransactionId();
    await h.client.submitTransaction({ transactionId, organizationId: h.organizationId, chainId: stack.chainId, signerAddress: account.address, target: probe, data, executor: selectionOf(account) });
    return transactionId;
  };

  const status = async (transactionId: string) => h.client.getTransactionStatus(transactionId);

  /** The owner's signature of the user operation the transaction shows (its SafeOp typed data). */
  const signOperation = async (owner: PrivateKeyAccount, transactionId: string): Promise<Hex> => {
    const userOperation = (await status(transactionId))?.approval?.userOperation;
    if (!userOperation) throw new Error(`transaction ${transactionId} shows no user operation`);
    return owner.signTypedData(safeOperationTypedData(unsignedOf(userOperation), userOperation.chainId));
  };

  /** Hands in an owner's approval (its signature of the user operation) through the DAPI. */
  const approve = async (transactionId: string, owner: PrivateKeyAccount, signature?: Hex) =>
    dapi.call<{ code?: string; data?: { field?: string }; counted?: boolean }>("POST", `/api/v2/admin/operator/transactions/${transactionId}/approvals`, {
      approver: owner.address,
      decision: "approve",
      signature: signature ?? (await signOperation(owner, transactionId)),
    });

  /** Hands in an owner's rejection (ddwf's approval typed data with decision reject). */
  const reject = async (transactionId: string, owner: PrivateKeyAccount, data: Hex) =>
    dapi.call<{ code?: string }>("POST", `/api/v2/admin/operator/transactions/${transactionId}/approvals`, {
      approver: owner.address,
      decision: "reject",
      signature: await owner.signTypedData(approvalTypedData({ transactionId, chainId: stack.chainId, target: probe, data, value: "0" }, "reject")),
    });

  /**
   * With alto in manual bundle mode: asks it to bundle until the transaction ended, and answers its
   * final status.
   */
  const bundleUntilEnded = async (transactionId: string, timeoutMs = 60_000) => {
    await waitFor(
      `transaction ${transactionId} to end while alto bundles`,
      async () => {
        await bundlerRpc(bundler.url, "debug_bundler_sendBundleNow").catch(() => undefined);
        const phase = (await status(transactionId))?.phase;
        return phase === "completed" || phase === "failed";
      },
      { timeoutMs, intervalMs: 300 },
    );
    return h.client.waitForTransaction(transactionId, { timeoutMs: 10_000 });
  };

  /** Submits a call and hands in two owners' signatures once it waits for them. */
  const submitApproved = async (account: SmartAccount, data: Hex) => {
    const transactionId = await submit(account, data);
    await h.waitForPhase(transactionId, "awaiting-approval");
    for (const owner of [account.owners[0]!, account.owners[1]!]) {
      const answer = await approve(transactionId, owner);
      if (answer.status !== 200) throw new Error(`approval of ${owner.address} was refused: ${JSON.stringify(answer.body)}`);
    }
    return transactionId;
  };

  const callsBy = async (address: Hex) => h.tools.client.readContract({ address: probe, abi: contract.abi, functionName: "callsBy", args: [address] }) as Promise<bigint>;

  return {
    ...h,
    bundler,
    dapi,
    probe,
    pokeData,
    failData,
    newAccount,
    submit,
    status,
    signOperation,
    approve,
    reject,
    callsBy,
    bundleUntilEnded,
    submitApproved,
    stop: async () => {
      await dapi.close();
      await h.stop();
      await bundler.stop();
    },
  };
}

export type SmartWalletHarness = Awaited<ReturnType<typeof startSmartWalletHarness>>;
