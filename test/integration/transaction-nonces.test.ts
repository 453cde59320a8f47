import { createWalletClient, http, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import type { TransactionStatus } from "../../services/workflows/transaction-execution/status.ts";
import { startRpcProxy, type RpcProxy } from "../helpers/rpc-proxy.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";

describe("nonces of one sender", () => {
  let h: TransactionHarness;
  let rpc: RpcProxy;
  beforeAll(async () => {
    rpc = await startRpcProxy(inject("stack").chainRpcUrl);
    h = await startTransactionHarness({ senders: 4, env: { CHAIN_RPC_URL: rpc.url } });
  });
  afterAll(async () => {
    await h.stop();
    await rpc.close();
  });

  async function submitTransfers(signer: Hex, count: number, recipient: Hex): Promise<string[]> {
    const ids = Array.from({ length: count }, () => h.newTransactionId());
    await Promise.all(ids.map((transactionId) => h.submit(signer, recipient, { transactionId, value: "1" })));
    return ids;
  }

  const waitAll = (ids: string[]): Promise<TransactionStatus[]> =>
    Promise.all(ids.map((id) => h.client.waitForTransaction(id, { timeoutMs: 110_000, pollIntervalMs: 500 })));

  it("gives 50 transactions submitted at once the nonces 0..49, each exactly once on chain", async () => {
    const signer = h.senders[0]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    const ids = await submitTransfers(signer, 50, (await h.tools.newSender("0")).address);
    const finals = await waitAll(ids);

    expect(finals.every((status) => status.phase === "completed")).toBe(true);
    expect(finals.map((status) => status.nonce).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const mined = await h.tools.minedTransactionsOf(signer, fromBlock);
    expect(mined.map((tx) => tx.nonce).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(new Set(mined.map((tx) => tx.hash))).toEqual(new Set(finals.map((status) => status.txHash)));
  });

  it("lets two senders progress in parallel: a sender whose queue is stuck does not delay another's", async () => {
    const [a, b] = [h.senders[1]!.address, h.senders[2]!.address];
    const recipient = (await h.tools.newSender("0")).address;
    // A's first broadcast hangs at the node, so A's queue stands still behind it.
    rpc.holdSends({ from: a });
    const idsA = await submitTransfers(a, 10, recipient);
    await waitFor("A's first broadcast to hang", async () => rpc.held() > 0);
    const idsB = await submitTransfers(b, 5, recipient);
    const finalsB = await waitAll(idsB);
    expect(finalsB.map((s) => s.nonce).sort((x, y) => x! - y!)).toEqual([0, 1, 2, 3, 4]);
    // B is done while not one of A's transactions has been mined.
    expect(await h.tools.client.getTransactionCount({ address: a })).toBe(0);
    rpc.releaseSends();
    const finalsA = await waitAll(idsA);
    expect(finalsA.map((s) => s.nonce).sort((x, y) => x! - y!)).toEqual(Array.from({ length: 10 }, (_, i) => i));
  });

  it("resyncs when an outside sender used our next nonce, and leaves no gap", async () => {
    const sender = h.senders[3]!;
    const recipient = (await h.tools.newSender("0")).address;
    const first = await submitTransfers(sender.address, 1, recipient);
    expect((await waitAll(first))[0]).toMatchObject({ phase: "completed", nonce: 0 });

    // Someone else holding the same key sends nonce 1 behind ddwf's back.
    const outside = createWalletClient({ chain: h.tools.chain, transport: http(h.stack.chainRpcUrl), account: privateKeyToAccount(sender.privateKey) });
    const outsideHash = await outside.sendTransaction({ to: recipient, value: 2n, nonce: 1 });
    await h.tools.client.waitForTransactionReceipt({ hash: outsideHash });

    const next = await submitTransfers(sender.address, 3, recipient);
    const finals = await waitAll(next);
    expect(finals.every((s) => s.phase === "completed")).toBe(true);
    expect(finals.map((s) => s.nonce).sort((a, b) => a! - b!)).toEqual([2, 3, 4]);
    expect(await h.tools.client.getTransactionCount({ address: sender.address })).toBe(5);
  });
});
