import * as clients from "@restatedev/restate-sdk-clients";
import { eq, inArray, sql } from "drizzle-orm";
import { createWalletClient, http } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { insertTransaction } from "../../shared/db/repositories/transactions.ts";
import { latestReconciliationReports } from "../../shared/db/repositories/reconciliation.ts";
import { transactions, transactionTransitions } from "../../shared/db/schema/index.ts";
import { transactionProcessor } from "../../services/transaction-processor/api.ts";
import { processorKey } from "../../services/transaction-processor/state.ts";
import type { TransactionReconciler } from "../../services/workflows/reconciliation/object.ts";
import { startRpcProxy, type RpcProxy } from "../helpers/rpc-proxy.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";

describe("TransactionReconciler", () => {
  let h: TransactionHarness;
  let rpc: RpcProxy;
  const ingress = () => clients.connect({ url: h.stack.restateIngressUrl });
  const reconciler = () => ingress().objectClient<TransactionReconciler>({ name: "TransactionReconciler" }, String(h.stack.chainId));

  beforeAll(async () => {
    rpc = await startRpcProxy((await import("vitest")).inject("stack").chainRpcUrl);
    h = await startTransactionHarness({ senders: 3, name: "reconcile-worker", env: { RECONCILE_STALE_AFTER_MS: "1000", CHAIN_RPC_URL: rpc.url } });
  });
  afterAll(async () => {
    await reconciler().stop();
    await h.stop();
    await rpc.close();
  });

  const latestFindings = async () => (await latestReconciliationReports(h.db, h.stack.chainId, 1))[0]?.findings ?? [];

  it("repairs a record forced out of step with its completed workflow", async () => {
    const transactionId = await h.submit(h.senders[0]!.address, h.senders[1]!.address, { value: "1" });
    const final = await h.client.waitForTransaction(transactionId);
    await h.db
      .update(transactions)
      .set({ phase: "confirming", phaseChangedAt: sql`now() - interval '1 hour'` })
      .where(eq(transactions.id, transactionId));

    await reconciler().runOnce();

    expect(await h.client.getTransactionStatus(transactionId, { source: "database" })).toMatchObject({ phase: "completed", txHash: final.txHash });
    expect(await latestFindings()).toContainEqual(expect.objectContaining({ kind: "record-repaired", reference: transactionId }));
  });

  it("starts the workflow of a stored operation whose submission never reached Restate", async () => {
    const transactionId = h.newTransactionId();
    await insertTransaction(h.db, {
      id: transactionId,
      organizationId: h.organizationId,
      chainId: h.stack.chainId,
      signerAddress: h.senders[0]!.address,
      target: h.senders[1]!.address,
      data: "0x",
      value: "2",
      gas: null,
      executor: { route: "eoa" },
      idempotencyKey: transactionId,
      correlationId: null,
    });
    await h.db.update(transactions).set({ phaseChangedAt: sql`now() - interval '1 hour'` }).where(eq(transactions.id, transactionId));

    await reconciler().runOnce();

    expect(await h.client.waitForTransaction(transactionId)).toMatchObject({ phase: "completed" });
    expect(await latestFindings()).toContainEqual(expect.objectContaining({ kind: "workflow-redriven", reference: transactionId }));
  });

  it("detects nonces an outside sender used on the same key and resyncs, so the next transaction leaves no gap", async () => {
    const sender = h.senders[1]!;
    const first = await h.submit(sender.address, h.senders[0]!.address, { value: "1" });
    expect(await h.client.waitForTransaction(first)).toMatchObject({ nonce: 0 });
    const outside = createWalletClient({ chain: h.tools.chain, transport: http(h.stack.chainRpcUrl), account: privateKeyToAccount(sender.privateKey) });
    for (const nonce of [1, 2]) {
      await h.tools.client.waitForTransactionReceipt({ hash: await outside.sendTransaction({ to: h.senders[0]!.address, value: 1n, nonce }) });
    }
    const processor = ingress().objectClient(transactionProcessor, processorKey(h.organizationId, sender.address, h.stack.chainId));
    expect((await processor.snapshot()).nextNonce).toBe(1);

    await reconciler().runOnce();

    expect((await processor.snapshot()).nextNonce).toBe(3);
    expect(await latestFindings()).toContainEqual(expect.objectContaining({ kind: "nonce-resynced" }));
    const next = await h.submit(sender.address, h.senders[0]!.address, { value: "1" });
    expect(await h.client.waitForTransaction(next)).toMatchObject({ phase: "completed", nonce: 3 });
    expect(await h.tools.client.getTransactionCount({ address: sender.address })).toBe(4);
  });

  it("keeps one loop per chain however often it is started, each round leaving one report", async () => {
    const before = (await latestReconciliationReports(h.db, h.stack.chainId, 1000)).length;
    // Ticks of loops started before this test (another file's `npm start`) left their reports earlier.
    const ticksBefore = (await reconciler().describe()).ticks;
    const [first, second] = [await reconciler().start({ intervalMs: 300 }), await reconciler().start({ intervalMs: 300 })];
    expect(first.started).toBe(true);
    expect(second).toEqual({ started: false, generation: first.generation });
    const described = await waitFor("three rounds", async () => {
      const state = await reconciler().describe();
      return state.ticks >= 3 ? state : undefined;
    });
    await reconciler().stop();
    expect(described.live).toBe(true);
    const state = await reconciler().describe();
    const reports = (await latestReconciliationReports(h.db, h.stack.chainId, 1000)).length - before;
    // One report per round of the one loop: a second loop would have doubled them.
    expect(reports).toBe(state.ticks - ticksBefore);
    expect(state.live).toBe(false);
  });

  it("reaches every record in a non-terminal phase within a bounded number of rounds, however many long-waiting ones come first", async () => {
    const signer = h.senders[2]!.address;
    // More than one round's worth of transactions wait in the sender's queue behind a held broadcast:
    // live runs whose records do not change for a long time.
    rpc.holdSends();
    const ids = Array.from({ length: 225 }, () => h.newTransactionId());
    await Promise.all(ids.map((transactionId) => h.submit(signer, signer, { transactionId, value: "1" })));
    await waitFor("every run to have recorded its first phase", async () => {
      const rows = await h.db.select({ id: transactionTransitions.transactionId }).from(transactionTransitions).where(inArray(transactionTransitions.transactionId, ids));
      return rows.length === ids.length ? true : undefined;
    }, { timeoutMs: 60_000 });
    const [waiting, drifted] = [ids.slice(0, 210), ids.slice(210)];
    await h.db.update(transactions).set({ phaseChangedAt: sql`now() - interval '1 hour'` }).where(inArray(transactions.id, waiting));
    // The newest of them drifted from their workflows' status.
    await h.db.update(transactions).set({ phase: "blocked", phaseChangedAt: sql`now() - interval '2 seconds'` }).where(inArray(transactions.id, drifted));

    for (let round = 0; round < 3; round++) await reconciler().runOnce();

    const records = await h.db.select({ id: transactions.id, phase: transactions.phase }).from(transactions).where(inArray(transactions.id, drifted));
    expect(records.map((record) => record.phase)).toEqual(drifted.map(() => "submitting"));
    rpc.releaseSends();
    const finals = await Promise.all(ids.map((id) => h.client.waitForTransaction(id, { timeoutMs: 110_000, pollIntervalMs: 1_000 })));
    expect(finals.every((final) => final.phase === "completed")).toBe(true);
  });
});
