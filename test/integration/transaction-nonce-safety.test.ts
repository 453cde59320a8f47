/**
 * Nonces of one sender: only the lowest unmined one is fee-bumped, an underpriced first broadcast
 * is re-signed on its nonce at once, a lagging RPC never leads to a second signature, and
 * organization ids may hold any character.
 */
import * as clients from "@restatedev/restate-sdk-clients";
import { parseGwei } from "viem";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { listTransactionSignatures } from "../../shared/db/repositories/transaction-signatures.ts";
import { transactionProcessor } from "../../services/transaction-processor/api.ts";
import { processorKey } from "../../services/transaction-processor/state.ts";
import { startRpcProxy, type RpcProxy } from "../helpers/rpc-proxy.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";

describe("nonce safety of one sender", () => {
  let h: TransactionHarness;
  let rpc: RpcProxy;

  beforeAll(async () => {
    const stack = (await import("vitest")).inject("stack");
    rpc = await startRpcProxy(stack.chainRpcUrl);
    // A broadcast budget of two minutes: a queue that stalls behind a refused broadcast would
    // stall for that long, far beyond what these tests wait.
    h = await startTransactionHarness({
      senders: 5,
      name: "nonce-safety-worker",
      env: { CHAIN_RPC_URL: rpc.url, TX_PREBROADCAST_RETRY_BUDGET_MS: "120000" },
    });
  });
  afterEach(async () => {
    rpc.releaseSends();
    rpc.lagReceipts(0);
    await h.tools.client.setNextBlockBaseFeePerGas({ baseFeePerGas: parseGwei("1") });
    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });
  });
  afterAll(async () => {
    await h.stop();
    await rpc.close();
  });

  const confirming = (transactionId: string) =>
    waitFor(`${transactionId} to be broadcast`, async () => {
      const status = await h.client.getTransactionStatus(transactionId);
      return status?.phase === "confirming" && status.txHash ? status : undefined;
    });

  it("bumps only the lowest unmined nonce; the transactions queued behind it keep their one signature", async () => {
    const signer = h.senders[0]!.address;
    await h.tools.client.setAutomine(false);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(await h.submit(signer, signer, { value: String(i + 1) }));
      await confirming(ids.at(-1)!);
    }
    const offered = (await h.tools.client.getTransaction({ hash: (await confirming(ids[0]!)).txHash! })).maxFeePerGas!;
    await h.tools.client.setNextBlockBaseFeePerGas({ baseFeePerGas: offered * 2n });
    await h.tools.client.mine({ blocks: 1 });

    // Two replacements of the lowest: time enough for its followers to have been bumped too.
    await waitFor("two replacements of the lowest nonce", async () => (await listTransactionSignatures(h.db, ids[0]!)).length >= 3, { timeoutMs: 40_000 });
    for (const follower of ids.slice(1)) {
      expect(await listTransactionSignatures(h.db, follower)).toHaveLength(1);
      expect((await h.client.getTransactionStatus(follower))?.phase).toBe("confirming");
    }

    await h.tools.client.setNextBlockBaseFeePerGas({ baseFeePerGas: parseGwei("1") });
    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });
    const finals = await Promise.all(ids.map((id) => h.client.waitForTransaction(id, { timeoutMs: 60_000 })));
    expect(finals.map((status) => status.phase)).toEqual(["completed", "completed", "completed"]);
  });

  it("re-signs a first broadcast refused as underpriced on the same nonce at the current fees, and the queue goes on", async () => {
    const signer = h.senders[1]!.address;
    const heldBefore = rpc.held();
    rpc.holdSends();
    const transactionId = await h.submit(signer, signer, { value: "1" });
    await waitFor("the first broadcast to be on its way", async () => rpc.held() > heldBefore);
    // Fees jump while the signed bytes travel: the node refuses them as below the next base fee.
    await h.tools.client.setNextBlockBaseFeePerGas({ baseFeePerGas: parseGwei("40") });
    rpc.releaseSends();

    const status = await waitFor("a broadcast the node accepts", async () => {
      const current = await h.client.getTransactionStatus(transactionId);
      return current?.phase === "confirming" || current?.phase === "completed" ? current : undefined;
    }, { timeoutMs: 20_000 });
    const accepted = await h.tools.client.getTransaction({ hash: status.txHash! });
    expect(accepted.maxFeePerGas! >= parseGwei("40")).toBe(true);
    const signatures = await listTransactionSignatures(h.db, transactionId);
    expect(new Set(signatures.map((signature) => signature.nonce))).toEqual(new Set([status.nonce]));

    const next = await h.submit(signer, signer, { value: "2" });
    const finals = await Promise.all([transactionId, next].map((id) => h.client.waitForTransaction(id, { timeoutMs: 20_000 })));
    expect(finals.map((final) => final.phase)).toEqual(["completed", "completed"]);
  });

  it("never signs again when a lagging RPC answers null for the receipt of a mined transaction", async () => {
    const signer = h.senders[2]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    await h.tools.client.setAutomine(false);
    const transactionId = await h.submit(signer, signer, { value: "1" });
    const sent = await confirming(transactionId);
    rpc.lagReceipts(40);
    await h.tools.client.mine({ blocks: 1 });
    await waitFor("the lagging node to be asked", async () => rpc.lagged() >= 5);
    await h.tools.client.mine({ blocks: 2 });
    rpc.lagReceipts(0);

    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final).toMatchObject({ phase: "completed", txHash: sent.txHash, nonce: sent.nonce });
    expect((await h.tools.minedTransactionsOf(signer, fromBlock)).map((tx) => tx.hash)).toEqual([sent.txHash]);
    expect(await listTransactionSignatures(h.db, transactionId)).toHaveLength(1);
  });

  it("serves an organization id holding colons through submit, fee replacement and the key's snapshot", async () => {
    const signer = h.senders[3]!.address;
    const organizationId = `acme:eu:${crypto.randomUUID().slice(0, 4)}`;
    await h.tools.client.setAutomine(false);
    const transactionId = await h.submit(signer, signer, { value: "1", organizationId });
    const sent = await confirming(transactionId);
    const offered = (await h.tools.client.getTransaction({ hash: sent.txHash! })).maxFeePerGas!;
    await h.tools.client.setNextBlockBaseFeePerGas({ baseFeePerGas: offered * 2n });
    await h.tools.client.mine({ blocks: 1 });
    await waitFor("a fee replacement", async () => (await listTransactionSignatures(h.db, transactionId)).length >= 2, { timeoutMs: 30_000 });

    await h.tools.client.setNextBlockBaseFeePerGas({ baseFeePerGas: parseGwei("1") });
    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });
    expect(await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 })).toMatchObject({ phase: "completed", nonce: sent.nonce });
    const processor = clients
      .connect({ url: h.stack.restateIngressUrl })
      .objectClient<typeof transactionProcessor>(transactionProcessor, processorKey(organizationId, signer, h.stack.chainId));
    expect((await processor.snapshot()).nextNonce).toBe(sent.nonce! + 1);
  });

  it("executes a call once when the worker dies after the node took its bytes, before the processor heard back", async () => {
    const signer = h.senders[0]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    const heldBefore = rpc.held();
    rpc.holdSendAnswers();
    const transactionId = await h.submit(signer, signer, { value: "3" });
    await waitFor("the bytes to reach the node", async () => rpc.held() > heldBefore);
    // Mined at once (automine): the nonce is used, and the processor never heard the answer.
    await waitFor("the transaction to be mined", async () => (await h.tools.minedTransactionsOf(signer, fromBlock + 1n)).length === 1);
    // Fees move on, so signing the call again would give other bytes.
    await h.tools.client.setNextBlockBaseFeePerGas({ baseFeePerGas: parseGwei("3") });
    await h.tools.client.mine({ blocks: 1 });
    await h.worker.crash();
    rpc.releaseSends();
    await h.worker.start();

    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    const mined = await h.tools.minedTransactionsOf(signer, fromBlock + 1n);
    expect(mined).toHaveLength(1);
    expect(final).toMatchObject({ phase: "completed", txHash: mined[0]!.hash });
  });

  it("finishes a transaction whose signature was journaled before a crash, on a worker that no longer holds the key", async () => {
    const signer = h.senders[4]!;
    const heldBefore = rpc.held();
    rpc.holdSends();
    const transactionId = await h.submit(signer.address, signer.address, { value: "1" });
    await waitFor("the signed bytes to be on their way", async () => rpc.held() > heldBefore);
    await h.worker.crash();
    rpc.releaseSends();
    // The same worker again, but its key list no longer has this signer.
    const keys = h.worker.env.SIGNER_DEV_KEYS!.split(",").filter((key) => key !== signer.privateKey);
    const restarted = { ...h.worker.env, SIGNER_DEV_KEYS: keys.join(",") };
    Object.assign(h.worker.env, restarted);
    await h.worker.start();

    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    expect(await h.tools.client.getTransactionCount({ address: signer.address })).toBe(1);
    Object.assign(h.worker.env, { SIGNER_DEV_KEYS: [...keys, signer.privateKey].join(",") });
    await h.worker.crash();
    await h.worker.start();
  });
});

