/**
 * Cancelling one transaction: before its nonce is taken nothing reaches the chain and no nonce is
 * burned; after broadcast a zero-value self-transfer races the original on the same nonce, exactly
 * one of them is mined and the record says which. A cancellation of the Restate invocation itself
 * follows the same rules.
 */
import { eq } from "drizzle-orm";
import type { Hex } from "viem";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { listTransactionSignatures } from "../../shared/db/repositories/transaction-signatures.ts";
import { operationsAuditLog } from "../../shared/db/schema/index.ts";
import { transactionExecutionWorkflow } from "../../services/workflows/transaction-execution/api.ts";
import { startDapiHarness, type DapiHarness } from "../helpers/dapi-harness.ts";
import { createInvocationTools, type InvocationTools } from "../helpers/restate-invocations.ts";
import { startRpcProxy, type RpcProxy } from "../helpers/rpc-proxy.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";
import type { WebhookReceiver } from "../helpers/webhook-receiver.ts";
import { subscribeWebhookReceiver, type WebhookSubscriber } from "../helpers/webhook-subscriber.ts";

describe("cancelling a transaction", () => {
  let h: TransactionHarness;
  let rpc: RpcProxy;
  let dapi: DapiHarness;
  let restate: InvocationTools;
  let receiver: WebhookReceiver;
  let webhooks: WebhookSubscriber;

  beforeAll(async () => {
    rpc = await startRpcProxy(inject("stack").chainRpcUrl);
    h = await startTransactionHarness({ senders: 5, name: "cancel-worker", env: { CHAIN_RPC_URL: rpc.url } });
    dapi = await startDapiHarness();
    restate = createInvocationTools(h.stack);
    webhooks = await subscribeWebhookReceiver(h.db, ["transaction.completed", "transaction.failed"]);
    receiver = webhooks.receiver;
  });
  afterEach(async () => {
    rpc.releaseSends();
    await h.tools.client.setAutomine(true);
  });
  afterAll(async () => {
    await webhooks.close();
    await dapi.close();
    await h.stop();
    await rpc.close();
  });

  async function broadcastWhileManualMining(signer: Hex) {
    await h.tools.client.setAutomine(false);
    const transactionId = await h.submit(signer, signer, { value: "7" });
    const status = await waitFor("the broadcast", async () => {
      const current = await h.client.getTransactionStatus(transactionId);
      return current?.phase === "confirming" ? current : undefined;
    });
    return { transactionId, hash: status.txHash!, nonce: status.nonce! };
  }

  const eventOf = (transactionId: string, type: string) =>
    waitFor(`${type} of ${transactionId}`, async () =>
      receiver.accepted().find((webhook) => webhook.type === type && (webhook.body.data as { transactionId?: string }).transactionId === transactionId),
    );

  it("ends a transaction cancelled before its nonce was taken as CANCELLED, with nothing broadcast and no nonce burned", async () => {
    const signer = h.senders[0]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    // The sender's queue is busy with a first transaction whose broadcast is held.
    const heldBefore = rpc.held();
    rpc.holdSends();
    const first = await h.submit(signer, signer, { value: "1" });
    await waitFor("the first broadcast to be on its way", async () => rpc.held() > heldBefore);
    const cancelled = await h.submit(signer, signer, { value: "2" });
    await waitFor("the second to wait for the sender's queue", async () => (await h.client.getTransactionStatus(cancelled))?.phase === "submitting");

    expect(await h.client.cancelTransaction(cancelled, { reason: "customer withdrew" })).toMatchObject({ accepted: true });
    rpc.releaseSends();

    expect(await h.client.waitForTransaction(cancelled)).toMatchObject({ phase: "failed", error: { code: "CANCELLED" }, nonce: null, txHash: null });
    const firstFinal = await h.client.waitForTransaction(first);
    const next = await h.submit(signer, signer, { value: "3" });
    expect(await h.client.waitForTransaction(next)).toMatchObject({ phase: "completed", nonce: firstFinal.nonce! + 1 });
    expect((await h.tools.minedTransactionsOf(signer, fromBlock)).map((tx) => tx.nonce)).toEqual([firstFinal.nonce, firstFinal.nonce! + 1]);
    expect(await listTransactionSignatures(h.db, cancelled)).toEqual([]);
    await eventOf(cancelled, "transaction.failed");
  });

  it("cancels a broadcast transaction through the DAPI with a zero-value self-transfer on its nonce, audited", async () => {
    const signer = h.senders[1]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    const sent = await broadcastWhileManualMining(signer);

    const answer = await dapi.call("POST", `/api/v2/admin/operator/transactions/${sent.transactionId}/cancel`, { reason: "wrong amount" });
    expect(answer.status).toBe(200);
    const cancellation = await waitFor("the cancellation to be signed", async () =>
      (await listTransactionSignatures(h.db, sent.transactionId)).find((signature) => signature.kind === "cancellation"),
    );
    expect(cancellation.nonce).toBe(sent.nonce);
    // Signed is stored before it is sent: mine only once the node holds the cancellation, or the
    // call may be mined first (an outcome the engine allows, not the one this test is about).
    await waitFor("the cancellation at the node", async () => h.tools.client.getTransaction({ hash: cancellation.hash as Hex }).then(() => true, () => false));
    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });

    expect(await h.client.waitForTransaction(sent.transactionId)).toMatchObject({ phase: "failed", error: { code: "CANCELLED" }, txHash: cancellation.hash });
    const mined = await h.tools.minedTransactionsOf(signer, fromBlock);
    expect(mined.map((tx) => tx.hash)).toEqual([cancellation.hash]);
    expect(mined[0]!.to?.toLowerCase()).toBe(signer);
    expect((await h.tools.client.getTransaction({ hash: cancellation.hash as Hex })).value).toBe(0n);
    await eventOf(sent.transactionId, "transaction.failed");
    const [row] = await h.db.select().from(operationsAuditLog).where(eq(operationsAuditLog.requestId, answer.requestId!));
    expect(row).toMatchObject({ route: "POST /api/v2/admin/operator/transactions/:transactionId/cancel", outcome: "success" });
  });

  it("reports completed when the original wins the race against its cancellation", async () => {
    const signer = h.senders[2]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    const sent = await broadcastWhileManualMining(signer);
    // The cancellation is signed but its broadcast is held while the original is mined.
    const heldBefore = rpc.held();
    rpc.holdSends();
    await h.client.cancelTransaction(sent.transactionId, { reason: "too late" });
    await waitFor("the cancellation to be on its way", async () => rpc.held() > heldBefore);
    await h.tools.client.mine({ blocks: 1 });
    rpc.releaseSends();
    await h.tools.client.setAutomine(true);

    expect(await h.client.waitForTransaction(sent.transactionId)).toMatchObject({ phase: "completed", txHash: sent.hash, error: null });
    expect((await h.tools.minedTransactionsOf(signer, fromBlock)).map((tx) => tx.hash)).toEqual([sent.hash]);
    await eventOf(sent.transactionId, "transaction.completed");
  });

  it("refuses to cancel a transaction that already ended, and changes nothing", async () => {
    const transactionId = await h.submit(h.senders[3]!.address, h.senders[3]!.address, { value: "1" });
    const final = await h.client.waitForTransaction(transactionId);
    expect(await h.client.cancelTransaction(transactionId, { reason: "late" })).toMatchObject({ accepted: false, phase: "completed" });
    expect(await h.client.getTransactionStatus(transactionId)).toEqual(final);
  });

  it("never leaves a failed record for a transaction mined later when Restate cancels its run after broadcast", async () => {
    const signer = h.senders[4]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    const sent = await broadcastWhileManualMining(signer);

    await restate.cancelRun(transactionExecutionWorkflow.name, sent.transactionId);
    await waitFor("the run to react to the cancellation", async () => {
      const signatures = await listTransactionSignatures(h.db, sent.transactionId);
      const status = await h.client.getTransactionStatus(sent.transactionId, { source: "database" });
      return signatures.some((signature) => signature.kind === "cancellation") || status?.phase === "failed" ? true : undefined;
    });
    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });

    const final = await h.client.waitForTransaction(sent.transactionId);
    const mined = await h.tools.minedTransactionsOf(signer, fromBlock);
    expect(mined).toHaveLength(1);
    expect(final.txHash).toBe(mined[0]!.hash);
    if (final.phase === "failed") {
      expect(final.error?.code).toBe("CANCELLED");
      expect(mined[0]!.hash).not.toBe(sent.hash);
    } else {
      expect(final).toMatchObject({ phase: "completed", txHash: sent.hash });
    }
  });
});
