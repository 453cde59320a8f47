/**
 * The smart-wallet route when a reorg takes the bundle away before it is deep enough (three
 * confirmations here), on real anvil, alto, EntryPoint and Safe contracts: the chain is reverted to
 * a snapshot taken before the bundle, as a reorg would leave it. alto keeps reporting the receipt
 * it first saw, so the node must be the one that tells: the transaction goes back to `confirming`,
 * the bundle's bytes are sent again, and the call still executes once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { listTransactionTransitions } from "../../shared/db/repositories/transactions.ts";
import { ENTRY_POINT_V07, entryPointAbi } from "../../shared/evm/erc4337/safe-account.ts";
import { bundlerRpc } from "../helpers/bundler.ts";
import { startSmartWalletHarness, type SmartWalletHarness } from "../helpers/smart-wallet-harness.ts";
import type { Hex } from "viem";

describe("the smart-wallet route through a reorg", () => {
  let h: SmartWalletHarness;
  beforeAll(async () => {
    h = await startSmartWalletHarness({ name: "smart-wallet-reorg-worker", bundleMode: "manual", env: { TX_CONFIRMATIONS: "3" } });
  });
  afterAll(async () => {
    await h?.stop();
  });

  /** Bundles and mines a block at a time until the transaction ended; answers its final status. */
  const mineUntilEnded = async (transactionId: string) => {
    await waitFor(
      `transaction ${transactionId} to end while blocks are mined`,
      async () => {
        await bundlerRpc(h.bundler.url, "debug_bundler_sendBundleNow").catch(() => undefined);
        await h.tools.client.mine({ blocks: 1 });
        const phase = (await h.status(transactionId))?.phase;
        return phase === "completed" || phase === "failed";
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );
    return h.client.waitForTransaction(transactionId, { timeoutMs: 10_000 });
  };

  it("sends a bundle a reorg dropped again, follows it to its new block and completes with the call made once", async () => {
    const account = await h.newAccount();
    expect((await mineUntilEnded(await h.submitApproved(account, h.pokeData(90)))).phase).toBe("completed");
    const beforeBundle = await h.tools.client.snapshot();

    const transactionId = await h.submitApproved(account, h.pokeData(91));
    const bundled = await waitFor("the bundle's receipt", async () => {
      await bundlerRpc(h.bundler.url, "debug_bundler_sendBundleNow").catch(() => undefined);
      const status = await h.status(transactionId);
      return status?.txHash ? status : undefined;
    });
    const first = await h.tools.client.getTransactionReceipt({ hash: bundled.txHash as Hex });
    expect(await h.callsBy(account.address)).toBe(2n);

    await h.tools.client.revert({ id: beforeBundle });
    expect(await h.callsBy(account.address)).toBe(1n);

    const final = await mineUntilEnded(transactionId);
    expect(final).toMatchObject({ phase: "completed", error: null, txHash: bundled.txHash });
    const receipt = await h.tools.client.getTransactionReceipt({ hash: final.txHash! });
    expect(receipt.blockHash).not.toBe(first.blockHash);
    expect(final.blockNumber).toBe(Number(receipt.blockNumber));
    expect(await h.callsBy(account.address)).toBe(2n);
    const entryPointNonce = await h.tools.client.readContract({ address: ENTRY_POINT_V07, abi: entryPointAbi, functionName: "getNonce", args: [account.address, 0n] });
    expect(entryPointNonce).toBe(2n);
    const reorgs = (await listTransactionTransitions(h.db, transactionId)).filter((transition) => transition.reason === "reorg");
    expect(reorgs.map((transition) => transition.phase)).toEqual(["confirming", "confirming"]);
  });
});
