/**
 * The smart-wallet route on real restate-server, anvil, alto, EntryPoint v0.7 and Safe 4337
 * contracts: a 2-of-3 Safe account's owners sign the user operation through the DAPI; the second
 * signature releases it to the bundler, and the record ends with the user operation hash and the
 * bundle transaction's hash. Signatures that do not count change nothing; owners' rejections that
 * leave too few signers end it with nothing sent.
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { parseEther, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENTRY_POINT_V07 } from "../../shared/evm/erc4337/safe-account.ts";
import { startSmartWalletHarness, type SmartWalletHarness } from "../helpers/smart-wallet-harness.ts";

describe("the smart-wallet route", () => {
  let h: SmartWalletHarness;
  beforeAll(async () => {
    h = await startSmartWalletHarness({ name: "smart-wallet-worker" });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("executes the call once from a new 2-of-3 account after two owners sign, completed with both hashes", async () => {
    const account = await h.newAccount();
    const transactionId = await h.submit(account, h.pokeData(1));
    await h.waitForPhase(transactionId, "awaiting-approval");
    const waiting = await h.status(transactionId);
    expect(waiting?.approval).toMatchObject({ route: "smart-wallet", state: "pending", quorum: { needed: 2, given: [] } });
    const userOperation = waiting!.approval!.userOperation!;
    expect(userOperation).toMatchObject({ nonce: "0", entryPoint: ENTRY_POINT_V07 });
    expect(userOperation.sender.toLowerCase()).toBe(account.address);
    expect(userOperation.factory).not.toBeNull();
    expect(await h.tools.client.getCode({ address: account.address })).toBeUndefined();

    expect((await h.approve(transactionId, account.owners[0]!)).status).toBe(200);
    await expect.poll(async () => (await h.status(transactionId))?.approval?.quorum?.given.length).toBe(1);
    expect((await h.status(transactionId))?.phase).toBe("awaiting-approval");
    expect(await h.callsBy(account.address)).toBe(0n);

    expect((await h.approve(transactionId, account.owners[2]!)).status).toBe(200);
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    expect(final.approval).toMatchObject({ state: "approved", userOperation: { userOpHash: userOperation.userOpHash } });
    expect(await h.callsBy(account.address)).toBe(1n);
    const bundle = await h.tools.client.getTransactionReceipt({ hash: final.txHash! });
    expect(bundle.to?.toLowerCase()).toBe(ENTRY_POINT_V07.toLowerCase());
    expect(bundle.logs.some((log) => log.topics[1] === userOperation.userOpHash)).toBe(true);
    expect(await h.tools.client.getCode({ address: account.address })).toMatch(/^0x.+/);

    // A third owner's signature after submission changes nothing.
    const late = await h.approve(transactionId, account.owners[1]!, await h.signOperation(account.owners[1]!, transactionId));
    expect(late).toMatchObject({ status: 409, body: { code: "APPROVAL_NOT_OPEN" } });
    expect(await h.callsBy(account.address)).toBe(1n);
    expect((await h.status(transactionId))?.txHash).toBe(final.txHash);
  });

  it("refuses an owner's signature over other data and an outsider's signature; neither counts", async () => {
    const account = await h.newAccount();
    const transactionId = await h.submit(account, h.pokeData(2));
    await h.waitForPhase(transactionId, "awaiting-approval");
    const owner = account.owners[0]!;
    const otherData = await owner.signMessage({ message: "something else" });
    expect(await h.approve(transactionId, owner, otherData)).toMatchObject({ status: 422, body: { code: "APPROVAL_SIGNATURE_INVALID", data: { field: "signature" } } });
    const outsider = (await h.newAccount()).owners[0]!;
    expect(await h.approve(transactionId, outsider)).toMatchObject({ status: 422, body: { code: "APPROVER_NOT_IN_POLICY", data: { field: "approver" } } });
    expect((await h.status(transactionId))?.approval?.quorum?.given).toEqual([]);
    await h.client.cancelTransaction(transactionId, { reason: "test over" });
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 30_000 });
    expect(final).toMatchObject({ phase: "failed", error: { code: "CANCELLED" } });
    expect(await h.callsBy(account.address)).toBe(0n);
  });

  it("ends failed with APPROVAL_REJECTED once rejections leave fewer owners than the threshold, with nothing sent", async () => {
    const account = await h.newAccount();
    const data = h.pokeData(3);
    const transactionId = await h.submit(account, data);
    await h.waitForPhase(transactionId, "awaiting-approval");
    expect((await h.reject(transactionId, account.owners[0]!, data)).status).toBe(200);
    // One rejection of three owners still leaves two who can sign.
    await expect.poll(async () => (await h.status(transactionId))?.approval?.quorum?.rejectedBy?.approver).toBe(account.owners[0]!.address.toLowerCase());
    expect((await h.status(transactionId))?.phase).toBe("awaiting-approval");
    expect((await h.reject(transactionId, account.owners[1]!, data)).status).toBe(200);
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 30_000 });
    expect(final).toMatchObject({ phase: "failed", error: { code: "APPROVAL_REJECTED" }, approval: { route: "smart-wallet", state: "rejected" } });
    expect(await h.callsBy(account.address)).toBe(0n);
    expect(await h.tools.client.getCode({ address: account.address })).toBeUndefined();
  });

  it("ends failed with the revert reason when the call reverts, with nothing mined for it", async () => {
    const account = await h.newAccount();
    const transactionId = await h.submit(account, h.failData("no thanks"));
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final).toMatchObject({ phase: "failed", error: { code: "EXECUTION_REVERTED" } });
    expect(final.error?.message).toContain("no thanks");
    expect(final.txHash).toBeNull();
    expect(await h.tools.client.getCode({ address: account.address })).toBeUndefined();
  });

  /** `npm run smart-account` against the suite's chain; answers its exit code and output. */
  const smartAccountCli = async (args: string[]) => {
    const env = { ...process.env, CHAIN_RPC_URL: h.stack.chainRpcUrl, CHAIN_ID: String(h.stack.chainId) };
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [resolve("services/cli/smart-account.ts"), ...args], { env });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  it("npm run smart-account names an account for owners and threshold; its first transaction deploys it at that address", async () => {
    const owners = [0, 1, 2].map(() => privateKeyToAccount(generatePrivateKey()));
    const named = await smartAccountCli([...owners.flatMap((owner) => ["--owner", owner.address]), "--threshold", "2"]);
    expect(named.code).toBe(0);
    expect(named.stderr).toContain("does not exist yet");
    const selection = JSON.parse(named.stdout) as { wallet: Hex; threshold: number; account: { owners: string[]; saltNonce: string } };
    expect(selection).toMatchObject({ route: "smart-wallet", threshold: 2, account: { owners: owners.map((owner) => owner.address) } });

    await h.tools.client.setBalance({ address: selection.wallet, value: parseEther("10") });
    const account = { address: selection.wallet.toLowerCase() as Hex, owners, saltNonce: selection.account.saltNonce };
    const final = await h.client.waitForTransaction(await h.submitApproved(account, h.pokeData(4)), { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    expect(await h.tools.client.getCode({ address: selection.wallet })).toMatch(/^0x.+/);
    expect(await h.callsBy(account.address)).toBe(1n);

    const again = await smartAccountCli([...owners.flatMap((owner) => ["--owner", owner.address]), "--threshold", "2", "--salt-nonce", selection.account.saltNonce]);
    expect(again.stderr).toContain(`smart account ${selection.wallet} exists`);
  });

  it("npm run smart-account refuses a malformed owner or a threshold above the owners, naming the option", async () => {
    const owner = privateKeyToAccount(generatePrivateKey()).address;
    const malformed = await smartAccountCli(["--owner", "0x1234", "--threshold", "1"]);
    expect(malformed).toMatchObject({ code: 64, stdout: "" });
    expect(malformed.stderr).toMatch(/^--owner: /);
    const tooHigh = await smartAccountCli(["--owner", owner, "--threshold", "2"]);
    expect(tooHigh).toMatchObject({ code: 64, stdout: "" });
    expect(tooHigh.stderr).toContain("--threshold: 2 is more than the 1 owners");
  });
});
