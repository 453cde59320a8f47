/**
 * The sign-only route on real restate-server, anvil and SoftHSM2: a quorum of approvers (2 of 3)
 * hands in EIP-712 decisions through the DAPI; the M-th approval releases the signing in the HSM,
 * and the transaction goes through the TransactionProcessor like an EOA one. A decision that does
 * not count changes nothing; a rejection, the expiry or a cancellation ends it with no nonce used;
 * a worker killed between approvals keeps the approvals given.
 */
import { parseTransaction, recoverTransactionAddress, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRANSACTION_EXECUTION_WORKFLOW } from "../../services/workflows/transaction-execution/api.ts";
import { listTransactionSignatures } from "../../shared/db/repositories/transaction-signatures.ts";
import { SECP256K1_N } from "../../shared/signers/hsm/signature.ts";
import { findSamples } from "../helpers/prometheus-text.ts";
import { createInvocationTools } from "../helpers/restate-invocations.ts";
import { SHORT_EXPIRY_SECONDS, startSignOnlyHarness, type SignOnlyHarness } from "../helpers/sign-only-harness.ts";
import { requireSoftHsm } from "../helpers/softhsm.ts";

const available = requireSoftHsm();

describe.skipIf(!available)("the sign-only route", () => {
  let h: SignOnlyHarness;
  beforeAll(async () => {
    h = await startSignOnlyHarness({ name: "sign-only-worker" });
  });
  afterAll(async () => {
    await h?.stop();
  });

  const approvalsCounted = async (outcome: string) => {
    const text = await (await fetch(`${h.worker.opsUrl}/metrics`)).text();
    return findSamples(text, "dalp_ddwf_approvals_total", { route: "sign-only", outcome })[0]?.value ?? 0;
  };

  /** Submits `poke(tag)` and answers once the transaction waits for approvals. */
  const submitUntilAwaitingApproval = async (tag: number, from: Hex = h.signer) => {
    const fromBlock = (await h.tools.client.getBlockNumber()) + 1n;
    const nonceBefore = await h.pendingNonce(from);
    const transactionId = await h.submit(tag, from);
    await h.waitForPhase(transactionId, "awaiting-approval");
    return { transactionId, fromBlock, nonceBefore };
  };

  /** Nothing was signed or sent for the transaction, and the signer's nonce did not move. */
  const expectNothingSigned = async (transactionId: string, from: Hex, fromBlock: bigint, nonceBefore: number) => {
    expect(await listTransactionSignatures(h.db, transactionId)).toEqual([]);
    expect(await h.minedFrom(from, fromBlock)).toEqual([]);
    expect(await h.pendingNonce(from)).toBe(nonceBefore);
    expect((await h.client.getTransactionStatus(transactionId))?.nonce).toBeNull();
  };

  it("signs in SoftHSM2 and mines once after 2 of 3 approvers approve", async () => {
    const approvedBefore = await approvalsCounted("approved");
    const { transactionId, fromBlock } = await submitUntilAwaitingApproval(1);
    const waiting = await h.client.getTransactionStatus(transactionId);
    expect(waiting?.approval).toMatchObject({ route: "sign-only", state: "pending", decidedAt: null, quorum: { needed: 2, given: [] } });
    expect(Date.parse(waiting!.approval!.expiresAt!) - Date.parse(waiting!.approval!.requestedAt)).toBe(600_000);

    expect((await h.decide(transactionId, 1, h.approvers[0]!)).status).toBe(200);
    await h.waitForPhase(transactionId, "awaiting-approval");
    await expect.poll(async () => (await h.client.getTransactionStatus(transactionId))?.approval?.quorum?.given.map((given) => given.approver)).toEqual([h.approvers[0]!.address.toLowerCase()]);
    expect(await h.minedFrom(h.signer, fromBlock)).toEqual([]);

    expect((await h.decide(transactionId, 1, h.approvers[2]!)).status).toBe(200);
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    expect(final.approval).toMatchObject({ state: "approved", quorum: { given: [{ approver: h.approvers[0]!.address.toLowerCase() }, { approver: h.approvers[2]!.address.toLowerCase() }] } });

    const mined = await h.minedFrom(h.signer, fromBlock);
    expect(mined.map((tx) => tx.hash)).toEqual([final.txHash]);
    expect(mined[0]!.input.startsWith(h.pokeData(1))).toBe(true);
    const [stored] = await listTransactionSignatures(h.db, transactionId);
    const raw = stored!.raw as Hex;
    expect((await recoverTransactionAddress({ serializedTransaction: raw as never })).toLowerCase()).toBe(h.signer);
    expect(BigInt(parseTransaction(raw).s!) <= SECP256K1_N / 2n).toBe(true);
    expect(await approvalsCounted("approved")).toBe(approvedBefore + 1);
  });

  it("does not count an approval whose signature is not the approver's", async () => {
    const { transactionId } = await submitUntilAwaitingApproval(2);
    const answer = await h.decide(transactionId, 2, h.approvers[0]!, "approve", { signedBy: h.approvers[1]! });
    expect(answer).toMatchObject({ status: 422, body: { code: "APPROVAL_SIGNATURE_INVALID", data: { field: "signature" } } });
    expect((await h.client.getTransactionStatus(transactionId))?.approval?.quorum?.given).toEqual([]);
    await h.client.cancelTransaction(transactionId, { reason: "test over" });
  });

  it("does not count an approval from an address outside the policy", async () => {
    const { transactionId } = await submitUntilAwaitingApproval(3);
    const answer = await h.decide(transactionId, 3, h.outsider);
    expect(answer).toMatchObject({ status: 422, body: { code: "APPROVER_NOT_IN_POLICY", data: { field: "approver" } } });
    expect((await h.client.getTransactionStatus(transactionId))?.approval?.quorum?.given).toEqual([]);
    await h.client.cancelTransaction(transactionId, { reason: "test over" });
  });

  it("does not count a second approval by the same approver", async () => {
    const { transactionId, fromBlock, nonceBefore } = await submitUntilAwaitingApproval(4);
    expect((await h.decide(transactionId, 4, h.approvers[1]!)).status).toBe(200);
    const again = await h.decide(transactionId, 4, h.approvers[1]!);
    expect(again).toMatchObject({ status: 409, body: { code: "APPROVAL_DUPLICATE", data: { field: "approver" } } });
    await expect.poll(async () => (await h.client.getTransactionStatus(transactionId))?.approval?.quorum?.given.length).toBe(1);
    const status = await h.client.getTransactionStatus(transactionId);
    expect(status?.phase).toBe("awaiting-approval");
    await expectNothingSigned(transactionId, h.signer, fromBlock, nonceBefore);
    await h.client.cancelTransaction(transactionId, { reason: "test over" });
  });

  it("ends failed with APPROVAL_REJECTED on one rejection, with no nonce used", async () => {
    const rejectedBefore = await approvalsCounted("rejected");
    const { transactionId, fromBlock, nonceBefore } = await submitUntilAwaitingApproval(5);
    expect((await h.decide(transactionId, 5, h.approvers[0]!)).status).toBe(200);
    expect((await h.decide(transactionId, 5, h.approvers[1]!, "reject")).status).toBe(200);

    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final).toMatchObject({ phase: "failed", error: { code: "APPROVAL_REJECTED" }, approval: { state: "rejected", quorum: { rejectedBy: { approver: h.approvers[1]!.address.toLowerCase() } } } });
    await expectNothingSigned(transactionId, h.signer, fromBlock, nonceBefore);
    expect(await approvalsCounted("rejected")).toBe(rejectedBefore + 1);
  });

  it("ends failed with APPROVAL_EXPIRED when the approvals do not come in time, with no nonce used", async () => {
    const { transactionId, fromBlock, nonceBefore } = await submitUntilAwaitingApproval(6, h.shortLived);
    expect((await h.decide(transactionId, 6, h.approvers[2]!)).status).toBe(200);

    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: SHORT_EXPIRY_SECONDS * 1000 + 30_000 });
    expect(final).toMatchObject({ phase: "failed", error: { code: "APPROVAL_EXPIRED" }, approval: { state: "expired", quorum: { given: [{ approver: h.approvers[2]!.address.toLowerCase() }] } } });
    await expectNothingSigned(transactionId, h.shortLived, fromBlock, nonceBefore);
    const late = await h.decide(transactionId, 6, h.approvers[0]!);
    expect(late).toMatchObject({ status: 409, body: { code: "APPROVAL_NOT_OPEN" } });
  });

  it("ends CANCELLED when a cancel request comes during the approval wait, with no nonce used", async () => {
    const { transactionId, fromBlock, nonceBefore } = await submitUntilAwaitingApproval(8);
    expect((await h.decide(transactionId, 8, h.approvers[0]!)).status).toBe(200);

    expect(await h.client.cancelTransaction(transactionId, { reason: "no longer wanted" })).toMatchObject({ accepted: true });
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final).toMatchObject({ phase: "failed", error: { code: "CANCELLED" }, approval: { state: "cancelled" } });
    await expectNothingSigned(transactionId, h.signer, fromBlock, nonceBefore);
    expect(await h.decide(transactionId, 8, h.approvers[1]!)).toMatchObject({ status: 409, body: { code: "APPROVAL_NOT_OPEN" } });
  });

  it("ends CANCELLED when Restate cancels the run during the approval wait, with no nonce used", async () => {
    const { transactionId, fromBlock, nonceBefore } = await submitUntilAwaitingApproval(9);

    await createInvocationTools(h.stack).cancelRun(TRANSACTION_EXECUTION_WORKFLOW, transactionId);
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final).toMatchObject({ phase: "failed", error: { code: "CANCELLED" }, approval: { state: "cancelled" } });
    await expectNothingSigned(transactionId, h.signer, fromBlock, nonceBefore);
  });

  it("keeps the approvals given when the worker is killed between approvals, and completes once", async () => {
    const { transactionId, fromBlock } = await submitUntilAwaitingApproval(7);
    expect((await h.decide(transactionId, 7, h.approvers[1]!)).status).toBe(200);
    await expect.poll(async () => (await h.client.getTransactionStatus(transactionId, { source: "database" }))?.approval?.quorum?.given.length).toBe(1);

    await h.worker.crash();
    await h.worker.start();
    await expect.poll(async () => (await h.client.getTransactionStatus(transactionId))?.approval?.quorum?.given.map((given) => given.approver)).toEqual([h.approvers[1]!.address.toLowerCase()]);

    expect((await h.decide(transactionId, 7, h.approvers[2]!)).status).toBe(200);
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    expect(final.approval?.quorum?.given.map((given) => given.approver)).toEqual([h.approvers[1]!.address.toLowerCase(), h.approvers[2]!.address.toLowerCase()]);
    expect((await h.minedFrom(h.signer, fromBlock)).map((tx) => tx.hash)).toEqual([final.txHash]);
  });
});
