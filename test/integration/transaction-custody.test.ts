/**
 * The custody route against the local Fireblocks server through the official SDK: the provider's
 * approval decides, the provider signs and broadcasts, ddwf confirms on chain. Crashes of the
 * worker during the approval wait and during broadcasting, and a provider answering 5xx, change
 * nothing: one provider transaction, one transaction on chain.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { TRANSACTION_EXECUTION_WORKFLOW } from "../../services/workflows/transaction-execution/api.ts";
import { createWebhookSubscription, updateWebhookSubscription } from "../../shared/db/repositories/webhooks.ts";
import type { TransactionApproval } from "../../shared/signers/approval.ts";
import { generateWebhookSecret } from "../../shared/webhooks/standard-webhooks.ts";
import { startCustodyHarness, type CustodyHarness } from "../helpers/custody-harness.ts";
import { startDapiHarness, type DapiHarness } from "../helpers/dapi-harness.ts";
import { findSamples } from "../helpers/prometheus-text.ts";
import { createInvocationTools } from "../helpers/restate-invocations.ts";
import { sealedSecrets } from "../helpers/webhook-keys.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.ts";

type ApprovalList = { items: { transactionId: string; route: string; phase: string; approval: TransactionApproval | null }[]; nextCursor: string | null };

describe("the custody route", () => {
  let h: CustodyHarness;
  let dapi: DapiHarness;
  beforeAll(async () => {
    h = await startCustodyHarness({ name: "custody-worker" });
    dapi = await startDapiHarness();
  });
  afterAll(async () => {
    await dapi?.close();
    await h?.stop();
  });

  /** The pending approvals as a viewer reads them through the DAPI (every page). */
  const approvalsListed = async (status = "pending") => {
    const items: ApprovalList["items"] = [];
    let cursor: string | null = null;
    do {
      const answer: { status: number; body: ApprovalList } = await dapi.call<ApprovalList>(
        "GET",
        `/api/v2/admin/operator/approvals?status=${status}&limit=2${cursor ? `&cursor=${cursor}` : ""}`,
        undefined,
        { key: dapi.keys.viewer.key },
      );
      expect(answer.status).toBe(200);
      items.push(...answer.body.items);
      cursor = answer.body.nextCursor;
    } while (cursor);
    return items;
  };

  const approvalsCounted = async (outcome: string) => {
    const text = await (await fetch(`${h.worker.opsUrl}/metrics`)).text();
    return findSamples(text, "dalp_ddwf_approvals_total", { route: "custody", outcome })[0]?.value ?? null;
  };

  it("waits in awaiting-approval until the provider approves, then completes once with the provider's hash", async () => {
    const approvedBefore = (await approvalsCounted("approved")) ?? 0;
    const { vault, fromBlock, transactionId, providerTx } = await h.submitUntilAwaitingApproval(1);
    const waiting = await h.client.getTransactionStatus(transactionId);
    expect(waiting?.approval).toMatchObject({
      route: "custody",
      state: "pending",
      decidedAt: null,
      provider: { name: "fireblocks", transactionId: providerTx.id, status: "PENDING_AUTHORIZATION" },
    });
    expect(await h.minedFrom(vault, fromBlock)).toEqual([]);
    expect(h.provider.unauthorized()).toBe(0);

    h.provider.approve(providerTx.id);
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    expect(final.txHash).toBe(h.provider.byExternalId(transactionId)[0]!.txHash);
    expect(final.approval).toMatchObject({ route: "custody", state: "approved" });

    const mined = await h.minedFrom(vault, fromBlock);
    expect(mined.map((tx) => tx.hash)).toEqual([final.txHash]);
    expect(mined[0]!.input.startsWith(h.pokeData(1))).toBe(true);
    expect(h.provider.byExternalId(transactionId)).toHaveLength(1);
    expect(await approvalsCounted("approved")).toBe(approvedBefore + 1);
  });

  it("tells webhooks and the DAPI's approvals list what a transaction waits for", async () => {
    const secret = generateWebhookSecret();
    const receiver: WebhookReceiver = await startWebhookReceiver([secret]);
    const subscriptionId = `sub_${crypto.randomUUID().replaceAll("-", "")}`;
    await createWebhookSubscription(h.db, { id: subscriptionId, url: receiver.url, eventTypes: ["transaction.awaiting-approval", "transaction.completed"], secrets: sealedSecrets(subscriptionId, [secret]) });
    try {
      const { transactionId, providerTx } = await h.submitUntilAwaitingApproval(6);

      const pending = (await approvalsListed()).find((item) => item.transactionId === transactionId);
      expect(pending).toMatchObject({ route: "custody", phase: "awaiting-approval", approval: { state: "pending", provider: { transactionId: providerTx.id } } });
      const event = await waitFor("the awaiting-approval webhook", async () =>
        receiver.accepted().find((hook) => hook.type === "transaction.awaiting-approval" && (hook.body.data as { transactionId: string }).transactionId === transactionId),
      );
      expect(event.body.data).toMatchObject({ phase: "awaiting-approval", approval: { route: "custody", state: "pending" } });

      h.provider.approve(providerTx.id);
      expect((await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 })).phase).toBe("completed");
      expect((await approvalsListed()).map((item) => item.transactionId)).not.toContain(transactionId);
      expect((await approvalsListed("approved")).map((item) => item.transactionId)).toContain(transactionId);
      const completed = await waitFor("the completed webhook", async () =>
        receiver.accepted().find((hook) => hook.type === "transaction.completed" && (hook.body.data as { transactionId: string }).transactionId === transactionId),
      );
      expect(completed.body.data).toMatchObject({ approval: { state: "approved" } });
    } finally {
      await updateWebhookSubscription(h.db, subscriptionId, { enabled: false });
      await receiver.close();
    }
  });

  it("cancels the provider transaction when the transaction is cancelled during the approval wait, with nothing on chain", async () => {
    const { vault, fromBlock, transactionId, providerTx } = await h.submitUntilAwaitingApproval(7);

    expect(await h.client.cancelTransaction(transactionId, { reason: "no longer wanted" })).toMatchObject({ accepted: true });
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("failed");
    expect(final.error?.code).toBe("CANCELLED");
    expect(final.approval?.state).toBe("cancelled");
    expect(h.provider.byExternalId(transactionId)[0]!.status).toBe("CANCELLED");
    expect(providerTx.id).toBe(h.provider.byExternalId(transactionId)[0]!.id);
    expect(await h.minedFrom(vault, fromBlock)).toEqual([]);
  });

  it("cancels the provider transaction when Restate cancels the run during the approval wait", async () => {
    const { vault, fromBlock, transactionId } = await h.submitUntilAwaitingApproval(9);

    await createInvocationTools(h.stack).cancelRun(TRANSACTION_EXECUTION_WORKFLOW, transactionId);
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final).toMatchObject({ phase: "failed", error: { code: "CANCELLED" }, approval: { state: "cancelled" } });
    expect(h.provider.byExternalId(transactionId).map((tx) => tx.status)).toEqual(["CANCELLED"]);
    expect(await h.minedFrom(vault, fromBlock)).toEqual([]);
  });

  it("finds the provider transaction by our id in a second run of the key, and never creates another", async () => {
    const { vault, fromBlock, transactionId, providerTx } = await h.submitUntilAwaitingApproval(8);
    const createsBefore = h.provider.createRequests();

    // The run is killed and forgotten, as an operator's recovery does; the key is submitted again.
    const invocations = createInvocationTools(h.stack);
    await invocations.killRun(TRANSACTION_EXECUTION_WORKFLOW, transactionId);
    const killedAt = Date.now();
    await invocations.purgeFinished(TRANSACTION_EXECUTION_WORKFLOW, transactionId);
    // Restate 1.7 hands a timer the killed run left pending to a new run of the same workflow key
    // (it has the same invocation id), which breaks that run's journal. The killed run's timers are
    // poll pauses of at most CUSTODY_POLL_MAX_INTERVAL_MS (400 ms here): resubmit once they are past.
    await waitFor("the killed run's last poll pause to be over", async () => Date.now() > killedAt + 400 + 200, { intervalMs: 50 });
    await h.client.submitTransaction({
      transactionId,
      organizationId: h.organizationId,
      chainId: h.stack.chainId,
      signerAddress: vault.address,
      target: h.probe,
      data: h.pokeData(8),
      executor: { route: "custody", provider: "fireblocks", vaultId: vault.vaultId },
    });
    await waitFor("the second run to look at the provider transaction", async () => (await invocations.invocationsOf(TRANSACTION_EXECUTION_WORKFLOW, transactionId, "run")).some((row) => row.status !== "completed"));

    h.provider.approve(providerTx.id);
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    expect(h.provider.createRequests()).toBe(createsBefore);
    expect(h.provider.byExternalId(transactionId)).toHaveLength(1);
    expect((await h.minedFrom(vault, fromBlock)).map((tx) => tx.hash)).toEqual([final.txHash]);
  });

  it("ends failed with the provider's sub-status when the provider rejects it, with nothing on chain", async () => {
    const { vault, fromBlock, transactionId, providerTx } = await h.submitUntilAwaitingApproval(2);

    h.provider.reject(providerTx.id, "REJECTED_BY_USER");
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("failed");
    expect(final.error?.code).toBe("REJECTED_BY_USER");
    expect(final.error?.message).toContain("REJECTED (REJECTED_BY_USER)");
    expect(final.txHash).toBeNull();
    expect(final.approval).toMatchObject({ state: "rejected", provider: { status: "REJECTED", subStatus: "REJECTED_BY_USER" } });
    expect(await h.minedFrom(vault, fromBlock)).toEqual([]);
    expect(await approvalsCounted("rejected")).toBeGreaterThanOrEqual(1);
  });

  it("keeps one provider transaction and one mined transaction when the worker is killed during the approval wait", async () => {
    const { vault, fromBlock, transactionId, providerTx } = await h.submitUntilAwaitingApproval(3);

    await h.worker.crash();
    h.provider.approve(providerTx.id);
    await h.worker.start();

    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    expect(h.provider.byExternalId(transactionId)).toHaveLength(1);
    expect((await h.minedFrom(vault, fromBlock)).map((tx) => tx.hash)).toEqual([final.txHash]);
  });

  it("keeps one provider transaction and one mined transaction when the worker is killed while the provider broadcasts", async () => {
    const { vault, fromBlock, transactionId, providerTx } = await h.submitUntilAwaitingApproval(4);

    h.provider.holdAt("BROADCASTING");
    try {
      h.provider.approve(providerTx.id);
      // The worker has seen the provider move on (approved, signing) before it dies.
      await waitFor("the provider to hold the transaction in BROADCASTING", async () => h.provider.byExternalId(transactionId)[0]!.status === "BROADCASTING");
      await h.waitForPhase(transactionId, "submitting");
      await h.worker.crash();
      h.provider.release(providerTx.id);
    } finally {
      h.provider.holdAt(null);
    }
    await waitFor("the provider to complete its transaction", async () => h.provider.byExternalId(transactionId)[0]!.status === "COMPLETED", { timeoutMs: 30_000 });
    await h.worker.start();

    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    expect(final.approval?.state).toBe("approved");
    expect(h.provider.byExternalId(transactionId)).toHaveLength(1);
    expect((await h.minedFrom(vault, fromBlock)).map((tx) => tx.hash)).toEqual([final.txHash]);
  });

  it("waits out a provider that answers 503 for a while", async () => {
    const { vault, fromBlock, transactionId, providerTx } = await h.submitUntilAwaitingApproval(5);

    const refusedBefore = h.provider.refusedByOutage();
    h.provider.outage(503);
    try {
      h.provider.approve(providerTx.id);
      await waitFor("the worker to meet the outage several times", async () => h.provider.refusedByOutage() >= refusedBefore + 5, { timeoutMs: 30_000 });
      expect((await h.client.getTransactionStatus(transactionId))?.phase).toBe("awaiting-approval");
    } finally {
      h.provider.outage(null);
    }

    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    expect(h.provider.byExternalId(transactionId)).toHaveLength(1);
    expect((await h.minedFrom(vault, fromBlock)).map((tx) => tx.hash)).toEqual([final.txHash]);
  });
});
