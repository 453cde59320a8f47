import { createServer, type Server } from "node:http";
import * as clients from "@restatedev/restate-sdk-clients";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../infra/local/free-port.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { listTransactionTransitions } from "../../shared/db/repositories/transactions.ts";
import { chainMonitor } from "../../services/workflows/chain-monitor/object.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";

describe("the chain monitor", () => {
  let h: TransactionHarness;
  beforeAll(async () => {
    // A fallback so long that only the monitor can explain a prompt completion.
    h = await startTransactionHarness({ senders: 1, name: "monitor-worker", env: { TX_RECEIPT_POLL_INTERVAL_MS: "120000", CHAIN_MONITOR_POLL_MS: "200" } });
  });
  afterEach(async () => {
    await h.tools.client.setAutomine(true);
  });
  afterAll(async () => {
    await h.stop();
  });

  it("wakes a transaction waiting for its block as soon as the block is mined", async () => {
    await h.tools.client.setAutomine(false);
    const transactionId = await h.submit(h.senders[0]!.address, h.senders[0]!.address, { value: "1" });
    await waitFor("the broadcast", async () => (await h.client.getTransactionStatus(transactionId))?.phase === "confirming");
    const monitor = clients.connect({ url: h.stack.restateIngressUrl }).objectClient(chainMonitor, String(h.stack.chainId));
    await waitFor("the workflow to wait on the monitor", async () => (await monitor.waiting()).waiters > 0);

    await h.tools.client.mine({ blocks: 1 });
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 20_000 });
    expect(final.phase).toBe("completed");
    await waitFor("the monitor to go idle", async () => !(await monitor.waiting()).following);
  });
});

describe("a reorg after confirmation", () => {
  let h: TransactionHarness;
  let indexer: { setBlock(block: number): void; requests(): number; close(): Promise<void>; url: string };

  beforeAll(async () => {
    indexer = await startIndexerStub();
    h = await startTransactionHarness({ senders: 1, name: "reorg-worker", env: { INDEXER_STATUS_URL: indexer.url } });
  });
  afterAll(async () => {
    await h.stop();
    await indexer.close();
  });

  it("sends a confirmed transaction whose block left the chain back to confirming, and it completes again", async () => {
    const snapshot = await h.tools.client.snapshot();
    const transactionId = await h.submit(h.senders[0]!.address, h.senders[0]!.address, { value: "1" });
    const status = await waitFor("the broadcast", async () => {
      const current = await h.client.getTransactionStatus(transactionId);
      return current?.txHash ? current : undefined;
    });
    const firstReceipt = await h.tools.client.waitForTransactionReceipt({ hash: status.txHash!, pollingInterval: 50 });
    // Confirmed on chain; the workflow now waits for the (stub) indexer to reach the block.
    await waitFor("the workflow to ask the indexer", async () => indexer.requests() > 0);

    await h.tools.client.revert({ id: snapshot });
    await h.tools.client.mine({ blocks: 1 });
    indexer.setBlock(1_000_000);

    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final).toMatchObject({ phase: "completed", txHash: status.txHash });
    const receipt = await h.tools.client.getTransactionReceipt({ hash: final.txHash! });
    expect(receipt.blockHash).not.toBe(firstReceipt.blockHash);
    expect((await listTransactionTransitions(h.db, transactionId)).map((t) => t.phase)).toEqual(["submitting", "confirming", "confirming", "completed"]);
    expect(await h.tools.client.getTransactionCount({ address: h.senders[0]!.address })).toBe(1);
  });
});

/** An indexer stand-in (the workflow's indexer source is pluggable) reporting a block the test sets. */
async function startIndexerStub() {
  let block = 0;
  let requests = 0;
  const server: Server = createServer((_request, response) => {
    requests += 1;
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ blockNumber: block }));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}/status`,
    setBlock: (value: number) => {
      block = value;
    },
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
