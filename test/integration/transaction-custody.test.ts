/**
 * The custody route against the local Fireblocks server through the official SDK: the provider's
 * approval decides, the provider signs and broadcasts, ddwf confirms on chain. Crashes of the
 * worker during the approval wait and during broadcasting, and a provider answering 5xx, change
 * nothing: one provider transaction, one transaction on chain.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { findSamples } from "../helpers/prometheus-text.ts";
import { startCustodyHarness, type CustodyHarness } from "../helpers/custody-harness.ts";

describe("the custody route", () => {
  let h: CustodyHarness;
  beforeAll(async () => {
    h = await startCustodyHarness({ name: "custody-worker" });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const approvalsCounted = async (outcome: string) => {
    const text = await (await fetch(`${h.worker.opsUrl}/metrics`)).text();
    return findSamples(text, "dalp_ddwf_approvals_total", { route: "custody", outcome })[0]?.value ?? null;
  };

  it("waits in awaiting-approval until the provider approves, then completes once with the provider's hash", async () => {
    const vault = await h.newVault();
    const fromBlock = await h.tools.client.getBlockNumber();
    const approvedBefore = (await approvalsCounted("approved")) ?? 0;
    const transactionId = await h.submit(vault, 1);
    const providerTx = await h.providerTransactionOf(transactionId);

    await h.waitForPhase(transactionId, "awaiting-approval");
    const waiting = await h.client.getTransactionStatus(transactionId);
    expect(waiting?.approval).toMatchObject({
      route: "custody",
      state: "pending",
      decidedAt: null,
      provider: { name: "fireblocks", transactionId: providerTx.id, status: "PENDING_AUTHORIZATION" },
    });
    expect(await h.minedFrom(vault, fromBlock)).toEqual([]);

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

  it("ends failed with the provider's sub-status when the provider rejects it, with nothing on chain", async () => {
    const vault = await h.newVault();
    const fromBlock = await h.tools.client.getBlockNumber();
    const transactionId = await h.submit(vault, 2);
    const providerTx = await h.providerTransactionOf(transactionId);
    await h.waitForPhase(transactionId, "awaiting-approval");

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
    const vault = await h.newVault();
    const fromBlock = await h.tools.client.getBlockNumber();
    const transactionId = await h.submit(vault, 3);
    const providerTx = await h.providerTransactionOf(transactionId);
    await h.waitForPhase(transactionId, "awaiting-approval");

    await h.worker.crash();
    h.provider.approve(providerTx.id);
    await h.worker.start();

    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    expect(h.provider.byExternalId(transactionId)).toHaveLength(1);
    expect((await h.minedFrom(vault, fromBlock)).map((tx) => tx.hash)).toEqual([final.txHash]);
  });

  it("keeps one provider transaction and one mined transaction when the worker is killed while the provider broadcasts", async () => {
    const vault = await h.newVault();
    const fromBlock = await h.tools.client.getBlockNumber();
    const transactionId = await h.submit(vault, 4);
    const providerTx = await h.providerTransactionOf(transactionId);
    await h.waitForPhase(transactionId, "awaiting-approval");

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
    const vault = await h.newVault();
    const fromBlock = await h.tools.client.getBlockNumber();
    const transactionId = await h.submit(vault, 5);
    const providerTx = await h.providerTransactionOf(transactionId);
    await h.waitForPhase(transactionId, "awaiting-approval");

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
