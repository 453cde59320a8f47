/**
 * The ERC-4337 stack the smart-wallet route stands on, with no ddwf worker in between: EntryPoint
 * v0.7 at its canonical address and the Safe 4337 contracts on anvil, a real alto bundler, and a
 * 2-of-3 Safe account whose address is known from its owners and salt before it exists. Its first
 * user operation deploys it and makes one call; the bundler answers the user operation hash ddwf
 * computes before sending, and its receipt names the bundle transaction mined on chain.
 */
import { encodeFunctionData, parseEther, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { compiledContract } from "../../infra/contracts/compile.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { createBundlerAccess } from "../../shared/evm/erc4337/bundler.ts";
import {
  dummySafeSignature,
  withSignatureGas,
  ENTRY_POINT_V07,
  entryPointAbi,
  packedUserOperation,
  packSafeSignatures,
  predictSafeAddress,
  readProxyCreationCode,
  SAFE_CONTRACTS,
  safe4337ModuleAbi,
  safeAbi,
  safeCallData,
  safeFactoryCall,
  safeOperationHash,
  safeOperationTypedData,
  userOperationHash,
  type UnsignedUserOperation,
} from "../../shared/evm/erc4337/safe-account.ts";
import { startTestBundler, type TestBundler } from "../helpers/bundler.ts";
import { createChainTools } from "../helpers/chain.ts";

describe("a 2-of-3 Safe account through alto", () => {
  const stack = inject("stack");
  const tools = createChainTools(stack);
  let bundler: TestBundler;
  beforeAll(async () => {
    bundler = await startTestBundler(stack, { name: "alto-bundler-suite" });
  });
  afterAll(async () => {
    await bundler?.stop();
  });

  it("deploys the account with its first user operation and executes the call once; the bundler answers the hash computed before sending", async () => {
    expect(await tools.client.getCode({ address: ENTRY_POINT_V07 })).toMatch(/^0x[0-9a-f]{100,}/);
    const owners = [0, 1, 2].map(() => privateKeyToAccount(generatePrivateKey()));
    const saltNonce = BigInt(Date.now());
    const proxyCreationCode = await readProxyCreationCode(tools.client);
    const account = predictSafeAddress({ owners: owners.map((owner) => owner.address), threshold: 2, saltNonce, proxyCreationCode });
    expect(await tools.client.getCode({ address: account })).toBeUndefined();
    await tools.client.setBalance({ address: account, value: parseEther("1") });

    const probe = await tools.deploy("ExecutionProbe", await tools.newSender());
    const probeAbi = (await compiledContract("ExecutionProbe")).abi;
    const access = createBundlerAccess({ url: bundler.url });
    const nonce = await tools.client.readContract({ address: ENTRY_POINT_V07, abi: entryPointAbi, functionName: "getNonce", args: [account, 0n] });
    const draft: UnsignedUserOperation = {
      sender: account,
      nonce: nonce.toString(),
      ...safeFactoryCall({ owners: owners.map((owner) => owner.address), threshold: 2, saltNonce }),
      callData: safeCallData({ target: probe, value: 0n, data: encodeFunctionData({ abi: probeAbi, functionName: "poke", args: [7n] }) }),
      callGasLimit: "0",
      verificationGasLimit: "0",
      preVerificationGas: "0",
      ...(await access.fees()),
    };
    const operation = { ...draft, ...withSignatureGas(await access.estimate(draft, dummySafeSignature(2)), 2) };

    // Two of the three owners sign the SafeOp; the module hashes it the same way.
    const signatures = await Promise.all(
      [owners[0]!, owners[2]!].map(async (owner) => ({ owner: owner.address, signature: await owner.signTypedData(safeOperationTypedData(operation, stack.chainId)) })),
    );
    const signature = packSafeSignatures(signatures);
    const onChainHash = await tools.client.readContract({ address: SAFE_CONTRACTS.module, abi: safe4337ModuleAbi, functionName: "getOperationHash", args: [packedUserOperation(operation, signature)] });
    expect(onChainHash).toBe(safeOperationHash(operation, stack.chainId));

    const expectedHash = userOperationHash(operation, stack.chainId);
    expect(await access.knows(expectedHash)).toBe(false);
    const sent: Hex = await access.send(operation, signature);
    expect(sent).toBe(expectedHash);
    const receipt = await waitFor("the user operation's receipt", () => access.receipt(sent).then((found) => found ?? undefined), { timeoutMs: 30_000, intervalMs: 250 });
    expect(receipt.success).toBe(true);
    expect(receipt.receipt.transactionHash).toMatch(/^0x[0-9a-f]{64}$/);
    const bundle = await tools.client.getTransactionReceipt({ hash: receipt.receipt.transactionHash });
    expect(bundle.status).toBe("success");
    expect(bundle.to?.toLowerCase()).toBe(ENTRY_POINT_V07.toLowerCase());

    // The account exists now, with its owners and threshold, and called the probe exactly once.
    expect(await tools.client.readContract({ address: account, abi: safeAbi, functionName: "getThreshold" })).toBe(2n);
    const onChainOwners = await tools.client.readContract({ address: account, abi: safeAbi, functionName: "getOwners" });
    expect(onChainOwners.map((owner) => owner.toLowerCase()).sort()).toEqual(owners.map((owner) => owner.address.toLowerCase()).sort());
    expect(await tools.client.readContract({ address: probe, abi: probeAbi, functionName: "callsBy", args: [account] })).toBe(1n);
    expect(await tools.client.readContract({ address: ENTRY_POINT_V07, abi: entryPointAbi, functionName: "getNonce", args: [account, 0n] })).toBe(1n);
  });
});
