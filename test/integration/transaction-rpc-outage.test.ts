import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { listDeadLetters } from "../../shared/db/repositories/dead-letters.ts";
import { startRpcProxy, type RpcProxy } from "../helpers/rpc-proxy.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";

describe("transactions through a failing RPC", () => {
  let proxy: RpcProxy;
  let h: TransactionHarness;
  beforeAll(async () => {
    proxy = await startRpcProxy(inject("stack").chainRpcUrl);
    h = await startTransactionHarness({ senders: 2, name: "outage-worker", env: { CHAIN_RPC_URL: proxy.url, TX_PREBROADCAST_RETRY_BUDGET_MS: "120000" } });
  });
  afterAll(async () => {
    await h.stop();
    await proxy.close();
  });

  const submit = (signer: `0x${string}`, count: number) =>
    Promise.all(
      Array.from({ length: count }, async () => {
        const transactionId = await h.submit(signer, h.senders[1]!.address, { value: "1" });
        return transactionId;
      }),
    );

  it("waits out an RPC outage and completes every transaction, none lost", async () => {
    proxy.setMode("down");
    const ids = await submit(h.senders[0]!.address, 5);
    // The workflows are running and cannot reach the chain.
    await waitFor("the proxy to refuse calls", async () => proxy.stats().refused > 10);
    const during = await Promise.all(ids.map((id) => h.client.getTransactionStatus(id)));
    expect(during.every((status) => status?.phase === "submitting")).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 3_000)); // an outage of a few seconds, by design
    proxy.setMode("up");

    const finals = await Promise.all(ids.map((id) => h.client.waitForTransaction(id, { timeoutMs: 110_000, pollIntervalMs: 500 })));
    expect(finals.map((s) => s.phase)).toEqual(ids.map(() => "completed"));
    expect(finals.map((s) => s.nonce).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it("registers a retry policy that outlasts the server's default of 70 attempts", async () => {
    // Each failed step attempt counts as an invocation retry on the server; with the default
    // policy a transaction would pause after a couple of minutes of outage.
    for (const service of ["TransactionExecutionWorkflow", "TransactionProcessor"]) {
      const metadata = (await (await fetch(`${h.stack.restateAdminUrl}/services/${service}`)).json()) as {
        retry_policy?: { max_attempts?: number; on_max_attempts?: string };
      };
      expect(metadata.retry_policy?.max_attempts).toBeGreaterThanOrEqual(10_000);
      expect(metadata.retry_policy?.on_max_attempts).toBe("Pause");
    }
  });

  it("completes every transaction when the RPC fails half of its calls", async () => {
    proxy.setMode({ flaky: 0.5 });
    const ids = await submit(h.senders[1]!.address, 5);
    const finals = await Promise.all(ids.map((id) => h.client.waitForTransaction(id, { timeoutMs: 110_000, pollIntervalMs: 500 })));
    proxy.setMode("up");
    expect(finals.map((s) => s.phase)).toEqual(ids.map(() => "completed"));
    expect(await h.tools.client.getTransactionCount({ address: h.senders[1]!.address })).toBe(5);
  });
});

describe("a transaction whose RPC stays down past the pre-broadcast budget", () => {
  let proxy: RpcProxy;
  let h: TransactionHarness;
  beforeAll(async () => {
    proxy = await startRpcProxy(inject("stack").chainRpcUrl);
    h = await startTransactionHarness({ senders: 1, name: "dead-letter-worker", env: { CHAIN_RPC_URL: proxy.url, TX_PREBROADCAST_RETRY_BUDGET_MS: "2000" } });
  });
  afterAll(async () => {
    await h.stop();
    await proxy.close();
  });

  it("ends `dead-letter` with a dead-letter row naming the cause, and burns no nonce", async () => {
    proxy.setMode("down");
    const transactionId = await h.submit(h.senders[0]!.address, h.senders[0]!.address, { value: "1" });
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    proxy.setMode("up");
    expect(final).toMatchObject({ phase: "dead-letter", txHash: null, error: { code: "RETRY_BUDGET_EXHAUSTED" } });
    const letters = await listDeadLetters(h.db, { kind: "transaction" });
    const letter = letters.find((row) => row.referenceId === transactionId);
    expect(letter).toMatchObject({ causeCode: "RETRY_BUDGET_EXHAUSTED", status: "open" });
    expect(await h.tools.client.getTransactionCount({ address: h.senders[0]!.address, blockTag: "pending" })).toBe(0);
  });
});
