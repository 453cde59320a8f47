/**
 * The smart-wallet route when things get in the way, with alto bundling only when the test asks
 * (manual bundle mode), so an operation stays in the bundler's queue as long as a test needs: a
 * second operation of the account is blocked behind the first; operations prepared at the same
 * moment get a nonce each; a rejected operation's nonce goes to the next one; one that finds another operation on its
 * nonce in the bundler is blocked (BLOCKED_BY_QUEUE) and goes on by itself once that is gone; a
 * worker SIGKILLed after the approvals, while submitting or during the receipt wait, and a bundler stopped during the
 * submission, still end with the call executed once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { transactionExecutionWorkflow } from "../../services/workflows/transaction-execution/api.ts";
import { getTransaction, listTransactionTransitions } from "../../shared/db/repositories/transactions.ts";
import { createBundlerAccess } from "../../shared/evm/erc4337/bundler.ts";
import { withSignatureGas, dummySafeSignature, ENTRY_POINT_V07, entryPointAbi, packSafeSignatures, safeCallData, safeOperationTypedData, type UnsignedUserOperation } from "../../shared/evm/erc4337/safe-account.ts";
import { bundlerRpc } from "../helpers/bundler.ts";
import { createInvocationTools } from "../helpers/restate-invocations.ts";
import { startSmartWalletHarness, type SmartAccount, type SmartWalletHarness } from "../helpers/smart-wallet-harness.ts";
import type { Hex } from "viem";

describe("the smart-wallet route through a bundler that bundles on request", () => {
  let h: SmartWalletHarness;
  beforeAll(async () => {
    h = await startSmartWalletHarness({ name: "smart-wallet-recovery-worker", bundleMode: "manual" });
  });
  afterAll(async () => {
    await h?.stop();
  });

  /**
   * With the bundler stopped, two owners approve: the operation is released and the route is left
   * submitting to a bundler that does not answer; `meanwhile` runs then, before the bundler is back.
   */
  const releaseWhileBundlerDown = async (transactionId: string, approvers: Parameters<SmartWalletHarness["approve"]>[1][], meanwhile?: () => Promise<void>) => {
    await h.bundler.stop();
    try {
      for (const approver of approvers) expect((await h.approve(transactionId, approver)).status).toBe(200);
      await expect.poll(async () => (await h.status(transactionId))?.approval?.state, { timeout: 15_000 }).toBe("approved");
      expect((await h.status(transactionId))?.phase).toBe("submitting");
      await meanwhile?.();
    } finally {
      await h.bundler.restart();
    }
  };

  /** The account made `calls` calls, each with a nonce of its own: no more, no fewer. */
  const expectCalls = async (account: SmartAccount, calls: bigint) => {
    expect(await h.callsBy(account.address)).toBe(calls);
    expect(await entryPointNonce(account)).toBe(calls);
  };

  /** Bundled to its end: completed, the call made once from the account, its one nonce used. */
  const expectExecutedOnce = async (account: SmartAccount, transactionId: string) => {
    expect((await h.bundleUntilEnded(transactionId)).phase).toBe("completed");
    await expectCalls(account, 1n);
  };

  /** A new account, deployed by its first operation (the call tagged `tag`), completed. */
  const deployedAccount = async (tag: number) => {
    const account = await h.newAccount();
    expect((await h.bundleUntilEnded(await h.submitApproved(account, h.pokeData(tag)))).phase).toBe("completed");
    return account;
  };

  const entryPointNonce = (account: SmartAccount) => h.tools.client.readContract({ address: ENTRY_POINT_V07, abi: entryPointAbi, functionName: "getNonce", args: [account.address as Hex, 0n] });

  it("blocks a second operation of the account with BLOCKED_BY_QUEUE while the first is queued, then completes both in order", async () => {
    const account = await deployedAccount(10);

    const first = await h.submitApproved(account, h.pokeData(11));
    await h.waitForPhase(first, "confirming");
    const second = await h.submitApproved(account, h.pokeData(12));
    await h.waitForPhase(second, "blocked");
    expect((await h.status(second))?.error).toMatchObject({ code: "BLOCKED_BY_QUEUE", message: expect.stringContaining(`held by transaction ${first}`) });
    const [firstNonce, secondNonce] = await Promise.all([first, second].map(async (id) => BigInt((await h.status(id))!.approval!.userOperation!.nonce)));
    expect(secondNonce).toBe(firstNonce! + 1n);

    expect((await h.bundleUntilEnded(first)).phase).toBe("completed");
    expect(await h.bundleUntilEnded(second)).toMatchObject({ phase: "completed", error: null });
    await expectCalls(account, 3n);
  });

  it("gives the nonce of an operation the owners rejected to the account's next one, which unblocks those queued behind it", async () => {
    const account = await deployedAccount(80);

    const rejectedData = h.pokeData(81);
    const rejected = await h.submit(account, rejectedData);
    await h.waitForPhase(rejected, "awaiting-approval");
    const behind = await h.submit(account, h.pokeData(82));
    await h.waitForPhase(behind, "awaiting-approval");
    for (const owner of [account.owners[0]!, account.owners[1]!]) expect((await h.reject(rejected, owner, rejectedData)).status).toBe(200);
    expect(await h.client.waitForTransaction(rejected, { timeoutMs: 30_000 })).toMatchObject({ phase: "failed", error: { code: "APPROVAL_REJECTED" } });
    for (const owner of [account.owners[1]!, account.owners[2]!]) expect((await h.approve(behind, owner)).status).toBe(200);
    await h.waitForPhase(behind, "blocked");
    expect((await h.status(behind))?.error).toMatchObject({ code: "BLOCKED_BY_QUEUE", message: expect.stringContaining("held by no open ddwf transaction") });

    const filler = await h.submitApproved(account, h.pokeData(83));
    expect((await h.status(filler))?.approval?.userOperation?.nonce).toBe("1");
    expect((await h.status(behind))?.approval?.userOperation?.nonce).toBe("2");
    expect((await h.bundleUntilEnded(filler)).phase).toBe("completed");
    expect(await h.bundleUntilEnded(behind)).toMatchObject({ phase: "completed", error: null });
    await expectCalls(account, 3n);
  });

  it("gives operations of one account submitted at the same moment one nonce each, and executes every one once", async () => {
    const account = await deployedAccount(70);

    const ids = await Promise.all([71, 72, 73].map((n) => h.submit(account, h.pokeData(n))));
    for (const id of ids) await h.waitForPhase(id, "awaiting-approval");
    const nonces = await Promise.all(ids.map(async (id) => (await h.status(id))!.approval!.userOperation!.nonce));
    expect([...nonces].sort()).toEqual(["1", "2", "3"]);

    for (const id of ids) {
      for (const owner of [account.owners[0]!, account.owners[2]!]) expect((await h.approve(id, owner)).status).toBe(200);
    }
    for (const id of ids) expect(await h.bundleUntilEnded(id)).toMatchObject({ phase: "completed", error: null });
    await expectCalls(account, 4n);
  });

  it("is blocked with BLOCKED_BY_QUEUE while the bundler holds another operation of the account on its nonce, and completes once that one is gone", async () => {
    const account = await deployedAccount(50);

    // The owners send an operation on the account's next nonce through another client, paying more.
    const access = createBundlerAccess({ url: h.bundler.url });
    const fees = await access.fees();
    const draft: UnsignedUserOperation = {
      sender: account.address,
      nonce: (await entryPointNonce(account)).toString(),
      factory: null,
      factoryData: null,
      callData: safeCallData({ target: h.probe, value: 0n, data: h.pokeData(51) }),
      callGasLimit: "0",
      verificationGasLimit: "0",
      preVerificationGas: "0",
      maxFeePerGas: (BigInt(fees.maxFeePerGas) * 3n).toString(),
      maxPriorityFeePerGas: (BigInt(fees.maxPriorityFeePerGas) * 3n).toString(),
    };
    const outside = { ...draft, ...withSignatureGas(await access.estimate(draft, dummySafeSignature(2)), 2) };
    const signatures = await Promise.all(account.owners.slice(0, 2).map(async (owner) => ({ owner: owner.address, signature: await owner.signTypedData(safeOperationTypedData(outside, h.stack.chainId)) })));
    await access.send(outside, packSafeSignatures(signatures));

    const transactionId = await h.submitApproved(account, h.pokeData(52));
    await h.waitForPhase(transactionId, "blocked");
    expect((await h.status(transactionId))?.error).toMatchObject({ code: "BLOCKED_BY_QUEUE" });

    // The bundler lets the other operation go; ddwf's goes through on its own.
    await bundlerRpc(h.bundler.url, "debug_bundler_clearState");
    const final = await h.bundleUntilEnded(transactionId);
    expect(final).toMatchObject({ phase: "completed", error: null });
    expect(await h.callsBy(account.address)).toBe(2n);
  });

  it("follows an operation the bundler holds when Restate cancels the run, and completes it: the cancel cannot call it back", async () => {
    const account = await h.newAccount();
    const transactionId = await h.submitApproved(account, h.pokeData(95));
    await h.waitForPhase(transactionId, "confirming");

    await createInvocationTools(h.stack).cancelRun(transactionExecutionWorkflow.name, transactionId);
    // The run heard it: the record keeps the request.
    await expect.poll(async () => (await getTransaction(h.db, transactionId))?.cancelRequestedAt, { timeout: 15_000 }).toBeInstanceOf(Date);

    await expectExecutedOnce(account, transactionId);
    expect((await listTransactionTransitions(h.db, transactionId)).map((transition) => transition.phase)).not.toContain("failed");
  });

  it("executes once when the worker is SIGKILLed right after the approvals", async () => {
    const account = await h.newAccount();
    const transactionId = await h.submitApproved(account, h.pokeData(20));
    await h.worker.crash();
    await h.worker.start();
    await expectExecutedOnce(account, transactionId);
  });

  it("executes once when the worker is SIGKILLed while it waits for the receipt", async () => {
    const account = await h.newAccount();
    const transactionId = await h.submitApproved(account, h.pokeData(30));
    await h.waitForPhase(transactionId, "confirming");
    await h.worker.crash();
    await h.worker.start();
    await expectExecutedOnce(account, transactionId);
  });

  it("executes once when the worker is SIGKILLed while it is submitting to a bundler that does not answer", async () => {
    const account = await h.newAccount();
    const transactionId = await h.submit(account, h.pokeData(60));
    await h.waitForPhase(transactionId, "awaiting-approval");
    await releaseWhileBundlerDown(transactionId, [account.owners[0]!, account.owners[2]!], () => h.worker.crash());
    await h.worker.start();
    await expectExecutedOnce(account, transactionId);
  });

  it("waits out a bundler that is down when the operation is released, and executes it once", async () => {
    const account = await h.newAccount();
    const transactionId = await h.submit(account, h.pokeData(40));
    await h.waitForPhase(transactionId, "awaiting-approval");
    await releaseWhileBundlerDown(transactionId, [account.owners[1]!, account.owners[2]!]);
    const final = await h.bundleUntilEnded(transactionId);
    expect(final.phase).toBe("completed");
    expect(await h.callsBy(account.address)).toBe(1n);
  });
});
