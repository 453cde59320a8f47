/**
 * Nonces that nobody watches any more: a run killed between signing and broadcast, a run killed
 * after broadcast, a completed transaction whose block was reorged away. One reconciliation round
 * finds each and leaves the sender's nonces without a hole and every record true to the chain.
 */
import * as clients from "@restatedev/restate-sdk-clients";
import type { Hex } from "viem";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { listNonceFills } from "../../shared/db/repositories/nonce-fills.ts";
import { latestReconciliationReports } from "../../shared/db/repositories/reconciliation.ts";
import { listTransactionTransitions } from "../../shared/db/repositories/transactions.ts";
import { transactionExecutionWorkflow } from "../../services/workflows/transaction-execution/api.ts";
import { transactionProcessor } from "../../services/transaction-processor/api.ts";
import { processorKey } from "../../services/transaction-processor/state.ts";
import { transactionReconciler } from "../../services/workflows/reconciliation/api.ts";
import { sumSamples } from "../helpers/prometheus-text.ts";
import { createInvocationTools, type InvocationTools } from "../helpers/restate-invocations.ts";
import { startRpcProxy, type RpcProxy } from "../helpers/rpc-proxy.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";
import type { WebhookReceiver } from "../helpers/webhook-receiver.ts";
import { subscribeWebhookReceiver, type WebhookSubscriber } from "../helpers/webhook-subscriber.ts";

const WORKFLOW = transactionExecutionWorkflow.name;

describe("nonces held by nobody", () => {
  let h: TransactionHarness;
  let rpc: RpcProxy;
  let restate: InvocationTools;
  let receiver: WebhookReceiver;
  let webhooks: WebhookSubscriber;
  const reconciler = () => clients.connect({ url: h.stack.restateIngressUrl }).objectClient(transactionReconciler, String(h.stack.chainId));

  beforeAll(async () => {
    rpc = await startRpcProxy(inject("stack").chainRpcUrl);
    h = await startTransactionHarness({ senders: 3, name: "nonce-fill-worker", env: { CHAIN_RPC_URL: rpc.url } });
    restate = createInvocationTools(h.stack);
    webhooks = await subscribeWebhookReceiver(h.db, ["nonce.filled", "transaction.confirming"]);
    receiver = webhooks.receiver;
  });
  afterEach(async () => {
    rpc.releaseSends();
    await h.tools.client.setAutomine(true);
  });
  afterAll(async () => {
    await webhooks.close();
    await h.stop();
    await rpc.close();
  });

  const processorOf = (signer: Hex) =>
    clients.connect({ url: h.stack.restateIngressUrl }).objectClient(transactionProcessor, processorKey(h.organizationId, signer, h.stack.chainId));
  const latestFindings = async () => (await latestReconciliationReports(h.db, h.stack.chainId, 1))[0]?.findings ?? [];

  it("fills the nonce of a run killed between signing and broadcast in one round, while a later transaction waits behind it", async () => {
    const signer = h.senders[0]!.address;
    const heldBefore = rpc.held();
    rpc.holdSends();
    const killed = await h.submit(signer, signer, { value: "1" });
    await waitFor("the signed bytes to be on their way", async () => rpc.held() > heldBefore);
    // The run and the processor call it made are killed, and the worker process dies with the
    // send still in flight: the bytes never reach the node.
    await restate.killRun(WORKFLOW, killed);
    await restate.killActive(transactionProcessor.name, processorKey(h.organizationId, signer, h.stack.chainId));
    await h.worker.crash();
    rpc.dropHeldSends();
    await h.worker.start();
    const nonce = (await processorOf(signer).snapshot()).inFlight.find((entry) => entry.transactionId === killed)?.nonce ?? 0;

    const later = await h.submit(signer, signer, { value: "2" });
    await waitFor("the later transaction to wait behind the hole", async () => (await h.client.getTransactionStatus(later))?.phase === "confirming");
    expect((await h.client.getTransactionStatus(later))?.nonce).toBe(nonce + 1);

    await reconciler().runOnce();

    expect(await h.client.waitForTransaction(later, { timeoutMs: 30_000 })).toMatchObject({ phase: "completed", nonce: nonce + 1 });
    const fill = (await h.tools.minedTransactionsOf(signer, 0n)).find((tx) => tx.nonce === nonce)!;
    expect(fill.to?.toLowerCase()).toBe(signer);
    expect((await h.tools.client.getTransaction({ hash: fill.hash })).value).toBe(0n);
    expect(await listNonceFills(h.db, { chainId: h.stack.chainId, signerAddress: signer })).toContainEqual(
      expect.objectContaining({ nonce, hash: fill.hash, reason: "run-ended", transactionId: killed }),
    );
    expect(await latestFindings()).toContainEqual(expect.objectContaining({ kind: "nonce-filled" }));
    const metrics = await (await fetch(`${h.worker.opsUrl}/metrics`)).text();
    expect(sumSamples(metrics, "dalp_ddwf_nonce_fills_total", { reason: "run-ended" })).toBeGreaterThanOrEqual(1);
    await waitFor("the fill's event", async () => receiver.accepted().some((webhook) => webhook.type === "nonce.filled" && (webhook.body.data as { hash?: string }).hash === fill.hash));
    // The killed transaction's record ends true to the chain: its call never ran.
    expect(await h.client.waitForTransaction(killed, { timeoutMs: 30_000 })).toMatchObject({ phase: "failed", error: { code: "CANCELLED" }, txHash: fill.hash });
  });

  it("lets a run killed after broadcast finish through the round: its bytes are mined once and the record says so", async () => {
    const signer = h.senders[1]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    await h.tools.client.setAutomine(false);
    const transactionId = await h.submit(signer, signer, { value: "1" });
    const sent = await waitFor("the broadcast", async () => {
      const status = await h.client.getTransactionStatus(transactionId);
      return status?.phase === "confirming" ? status : undefined;
    });
    await restate.killRun(WORKFLOW, transactionId);

    // The killed run was sleeping: rounds defer the key until that sleep is due (a timer of the
    // killed run would reach the next run of the key), then one re-drives it.
    await waitFor("a round that re-drives the killed run", async () => {
      await reconciler().runOnce();
      return (await latestFindings()).some((finding) => finding.kind === "workflow-redriven" && finding.reference === transactionId);
    }, { timeoutMs: 60_000, intervalMs: 1_000 });
    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });

    expect(await h.client.waitForTransaction(transactionId, { timeoutMs: 30_000 })).toMatchObject({ phase: "completed", txHash: sent.txHash });
    expect((await h.tools.minedTransactionsOf(signer, fromBlock)).map((tx) => tx.hash)).toEqual([sent.txHash]);
    expect(await latestFindings()).toContainEqual(expect.objectContaining({ kind: "workflow-redriven", reference: transactionId }));
  });

  it("puts a completed transaction whose block was reorged away back to confirming, re-broadcasts it, and completes it again", async () => {
    const signer = h.senders[2]!.address;
    const snapshot = await h.tools.client.snapshot();
    const transactionId = await h.submit(signer, signer, { value: "1" });
    const first = await h.client.waitForTransaction(transactionId);
    const firstBlock = (await h.tools.client.getTransactionReceipt({ hash: first.txHash! })).blockHash;
    // The block leaves the chain and its transaction is gone from the node.
    await h.tools.client.revert({ id: snapshot });
    await h.tools.client.setAutomine(false);
    await h.tools.client.mine({ blocks: 2 });
    expect(await h.tools.client.getTransactionCount({ address: signer })).toBe(0);

    await reconciler().runOnce();

    const back = await h.client.getTransactionStatus(transactionId, { source: "database" });
    expect(back?.phase).toBe("confirming");
    await waitFor("the stored bytes back in the mempool", async () => h.tools.client.getTransaction({ hash: first.txHash! }).then(() => true, () => false));
    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });
    // The record, not the workflow's status: a run publishes a phase a moment before its step stores it.
    await expect
      .poll(
        async () => {
          const phases = (await listTransactionTransitions(h.db, transactionId)).map((t) => t.phase);
          return phases.slice(phases.indexOf("completed"));
        },
        { timeout: 30_000 },
      )
      .toEqual(["completed", "confirming", "completed"]);
    expect(await h.client.getTransactionStatus(transactionId, { source: "database" })).toMatchObject({ phase: "completed", txHash: first.txHash });
    expect((await h.tools.client.getTransactionReceipt({ hash: first.txHash! })).blockHash).not.toBe(firstBlock);
    expect(await h.tools.client.getTransactionCount({ address: signer })).toBe(1);
    await waitFor("the event of the way back", async () =>
      receiver.accepted().some((webhook) => webhook.type === "transaction.confirming" && (webhook.body.data as { transactionId?: string; reason?: string }).reason === "reorg"),
    );
  });
});


