import * as clients from "@restatedev/restate-sdk-clients";
import { parseEther, parseGwei, type Hex } from "viem";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { transactionProcessor } from "../../services/transaction-processor/api.ts";
import { processorKey } from "../../services/transaction-processor/state.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";

/**
 * Mining is manual in these tests (automine off), so a transaction can be kept out of blocks the way
 * a congested chain does: by a base fee above what it offers.
 */
describe("stuck and dropped transactions", () => {
  let h: TransactionHarness;
  beforeAll(async () => {
    h = await startTransactionHarness({ senders: 2, name: "stuck-worker" });
  });
  afterEach(async () => {
    await h.tools.client.setAutomine(true);
  });
  afterAll(async () => {
    await h.stop();
  });

  const ingress = () => clients.connect({ url: h.stack.restateIngressUrl });
  const snapshot = (signer: Hex) =>
    ingress()
      .objectClient(transactionProcessor, processorKey(h.organizationId, signer, h.stack.chainId))
      .snapshot();

  async function submitWhileManualMining(signer: Hex): Promise<{ transactionId: string; hash: Hex; nonce: number }> {
    await h.tools.client.setAutomine(false);
    const transactionId = await h.submit(signer, (await h.tools.newSender("0")).address, { value: "1" });
    const confirming = await waitFor("the transaction to be broadcast", async () => {
      const status = await h.client.getTransactionStatus(transactionId);
      return status?.phase === "confirming" && status.txHash ? status : undefined;
    });
    return { transactionId, hash: confirming.txHash!, nonce: confirming.nonce! };
  }

  it("replaces a stuck transaction with higher fees on the same nonce, and exactly one is mined", async () => {
    const signer = h.senders[0]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    const original = await submitWhileManualMining(signer);
    const offeredTx = await h.tools.client.getTransaction({ hash: original.hash });
    const offered = offeredTx.maxFeePerGas!;
    const offeredTip = offeredTx.maxPriorityFeePerGas!;

    // Congestion: the next block's base fee is above what the transaction offers; it stays out.
    await h.tools.client.setNextBlockBaseFeePerGas({ baseFeePerGas: offered * 2n });
    await h.tools.client.mine({ blocks: 1 });
    const replaced = await waitFor("a fee replacement", async () => {
      const state = await snapshot(signer);
      const entry = state.inFlight.find((tx) => tx.transactionId === original.transactionId);
      return entry && entry.hashes.length >= 2 ? entry : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect(replaced.nonce).toBe(original.nonce);
    const replacement = await h.tools.client.getTransaction({ hash: replaced.hashes.at(-1)! });
    expect(replacement.maxFeePerGas! >= (offered * 1125n) / 1000n).toBe(true);
    // Both fee fields clear the node's replacement threshold (12.5% by default here).
    expect(replacement.maxPriorityFeePerGas! >= (offeredTip * 1125n) / 1000n).toBe(true);

    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });
    const final = await h.client.waitForTransaction(original.transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    expect(final.txHash).toBe(replaced.hashes.at(-1));
    const mined = await h.tools.minedTransactionsOf(signer, fromBlock);
    expect(mined.map((tx) => tx.nonce)).toEqual([original.nonce]);
    expect((await h.client.getTransactionStatus(original.transactionId, { source: "database" }))?.txHash).toBe(final.txHash);
  });

  it("mines the same signed bytes, once, when the worker is killed right after broadcast", async () => {
    const signer = h.senders[0]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    const sent = await submitWhileManualMining(signer);
    await h.worker.crash();
    await h.worker.start();
    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });
    const final = await h.client.waitForTransaction(sent.transactionId, { timeoutMs: 60_000 });
    expect(final).toMatchObject({ phase: "completed", txHash: sent.hash, nonce: sent.nonce });
    const mined = await h.tools.minedTransactionsOf(signer, fromBlock);
    expect(mined.map((tx) => tx.hash)).toEqual([sent.hash]);
  });

  it("reports a dropped transaction the node now refuses as blocked, and completes once it is accepted", async () => {
    const signer = h.senders[1]!.address;
    const sent = await submitWhileManualMining(signer);
    await h.tools.client.setBalance({ address: signer, value: 0n });
    await h.tools.client.dropTransaction({ hash: sent.hash });
    const blocked = await waitFor("the blocked phase", async () => {
      const status = await h.client.getTransactionStatus(sent.transactionId);
      return status?.phase === "blocked" ? status : undefined;
    });
    expect(blocked).toMatchObject({ txHash: sent.hash, error: { code: "INSUFFICIENT_FUNDS" } });

    await h.tools.client.setBalance({ address: signer, value: parseEther("100") });
    await waitFor("the same bytes back in the mempool", async () => h.tools.client.getTransaction({ hash: sent.hash }).then(() => true, () => false));
    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });
    expect(await h.client.waitForTransaction(sent.transactionId, { timeoutMs: 60_000 })).toMatchObject({ phase: "completed", txHash: sent.hash, error: null });
  });

  it("re-broadcasts the same signed bytes when the transaction is dropped from the mempool", async () => {
    const signer = h.senders[1]!.address;
    const original = await submitWhileManualMining(signer);
    await h.tools.client.dropTransaction({ hash: original.hash });
    await waitFor("the transaction to be back in the mempool", async () =>
      h.tools.client.getTransaction({ hash: original.hash }).then(() => true, () => false),
    );
    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });
    const final = await h.client.waitForTransaction(original.transactionId, { timeoutMs: 60_000 });
    expect(final).toMatchObject({ phase: "completed", txHash: original.hash, nonce: original.nonce });
  });
});

describe("a stuck transaction at the fee cap", () => {
  let h: TransactionHarness;
  beforeAll(async () => {
    // A cap just above today's fees: the first bump would cross it.
    h = await startTransactionHarness({ senders: 1, name: "cap-worker", env: { TX_MAX_FEE_PER_GAS_GWEI: "4" } });
  });
  afterAll(async () => {
    await h.tools.client.setAutomine(true);
    await h.stop();
  });

  it("is `blocked` instead of outbidding the cap, and completes once fees fall", async () => {
    const signer = h.senders[0]!.address;
    await h.tools.client.setNextBlockBaseFeePerGas({ baseFeePerGas: parseGwei("1") });
    await h.tools.client.mine({ blocks: 1 });
    await h.tools.client.setAutomine(false);
    const transactionId = await h.submit(signer, (await h.tools.newSender("0")).address, { value: "1" });
    const broadcast = await waitFor("the broadcast", async () => {
      const status = await h.client.getTransactionStatus(transactionId);
      return status?.txHash ? status : undefined;
    });
    await h.tools.client.setNextBlockBaseFeePerGas({ baseFeePerGas: parseGwei("50") });
    await h.tools.client.mine({ blocks: 1 });

    const blocked = await waitFor("the blocked phase", async () => {
      const status = await h.client.getTransactionStatus(transactionId);
      return status?.phase === "blocked" ? status : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect(blocked.error?.code).toBe("FEE_CAP_REACHED");
    const record = await h.client.getTransactionStatus(transactionId, { source: "database" });
    expect(record?.phase).toBe("blocked");

    await h.tools.client.setNextBlockBaseFeePerGas({ baseFeePerGas: parseGwei("1") });
    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final).toMatchObject({ phase: "completed", txHash: broadcast.txHash, error: null });
  });
});
