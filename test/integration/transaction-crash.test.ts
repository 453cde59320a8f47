import { encodeFunctionData } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compiledContract } from "../../infra/contracts/compile.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";

describe("a worker killed while transactions run", () => {
  let h: TransactionHarness;
  beforeAll(async () => {
    h = await startTransactionHarness({ senders: 2, name: "crash-worker" });
  });
  afterAll(async () => {
    await h.stop();
  });

  it("puts every transaction on chain exactly once after SIGKILLs at random moments", async () => {
    const contract = await compiledContract("ExecutionProbe");
    const probe = await h.tools.deploy("ExecutionProbe", await h.tools.newSender());
    const fromBlock = await h.tools.client.getBlockNumber();
    const jobs = Array.from({ length: 20 }, (_, i) => ({ id: h.newTransactionId(), tag: 1000 + i, sender: h.senders[i % 2]!.address }));
    await Promise.all(
      jobs.map((job) =>
        h.submit(job.sender, probe, {
          transactionId: job.id,
          data: encodeFunctionData({ abi: contract.abi, functionName: "poke", args: [BigInt(job.tag)] }),
        }),
      ),
    );

    // Three crashes at random points of the run (seeded by the test's own randomness; logged for replay).
    const delays = Array.from({ length: 3 }, () => 50 + Math.floor(Math.random() * 600));
    console.log("crash delays (ms):", delays.join(", "));
    for (const delay of delays) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      await h.worker.crash();
      await h.worker.start();
    }

    const finals = await Promise.all(jobs.map((job) => h.client.waitForTransaction(job.id, { timeoutMs: 110_000, pollIntervalMs: 500 })));
    expect(finals.map((s) => s.phase)).toEqual(jobs.map(() => "completed"));

    for (const sender of h.senders) {
      const mined = await h.tools.minedTransactionsOf(sender.address, fromBlock);
      // Exactly once by sender and nonce: ten transactions, nonces 0..9, no duplicates, no gaps.
      expect(mined.map((tx) => tx.nonce).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    }
    const events = await h.tools.client.getContractEvents({ address: probe, abi: contract.abi, eventName: "Poked", fromBlock });
    const tags = events.map((event) => Number((event.args as { tag: bigint }).tag)).sort((a, b) => a - b);
    expect(tags).toEqual(jobs.map((job) => job.tag).sort((a, b) => a - b));
  });
});
