import * as restate from "@restatedev/restate-sdk";
import { describe, expect, it, vi } from "vitest";
import type { TransactionApproval } from "../../shared/signers/approval.ts";
import { RunEnded } from "../../services/workflows/transaction-execution/run-ended.ts";
import { createSmartWalletRoute, type SmartWalletRouteParameters, type SmartWalletSettings } from "../../services/workflows/transaction-execution/smart-wallet-route.ts";
import type { BundleLocation, BundleReceipt, SmartWalletSteps, StoredUserOperation, SubmitOutcome } from "../../services/workflows/transaction-execution/smart-wallet-steps.ts";
import type { ApprovalSignal, CancelTransactionRequest } from "../../services/workflows/transaction-execution/types.ts";
import { fakePhaseRecorder, fakeWorkflowContext } from "../helpers/fake-workflow-context.ts";

const transactionId = "tx-smart-wallet-1";
const wallet = "0x5afe00000000000000000000000000000000cafe";
const [alice, bob, carol] = ["0x00000000000000000000000000000000000000a1", "0x00000000000000000000000000000000000000b2", "0x00000000000000000000000000000000000000c3"] as const;
const signature = "0x5195";

const userOperation: StoredUserOperation = {
  userOpHash: "0x0bad",
  safeOperationHash: "0x5af0",
  entryPoint: "0x0000000071727de22e5e9d8baf0edac6f37da032",
  module: "0x75cf11467937ce3f2f357ce24ffc3dbf8fd5c226",
  chainId: 31337,
  sender: wallet,
  nonce: "0",
  factory: null,
  factoryData: null,
  callData: "0xca11",
  callGasLimit: "100000",
  verificationGasLimit: "200000",
  preVerificationGas: "50000",
  maxFeePerGas: "2000000000",
  maxPriorityFeePerGas: "1000000000",
};
const operation: SmartWalletRouteParameters["operation"] = {
  transactionId,
  organizationId: "org-1",
  chainId: 31337,
  signerAddress: wallet,
  target: "0x000000000000000000000000000000000000beef",
  data: "0x",
  value: "0",
  gasLimit: null,
  maxFeePerGas: null,
  maxPriorityFeePerGas: null,
  executor: { route: "smart-wallet", wallet, threshold: 2 },
  idempotencyKey: transactionId,
  correlationId: null,
};
const settings: SmartWalletSettings = { confirmations: 2, pollIntervalMs: 1_000, maxBlockedRetryMs: 3_000, preBroadcastRetryMs: 60_000 };
const bundle: BundleReceipt = { txHash: "0xb0b1", blockNumber: 42, blockHash: "0xb10c42", success: true, reason: null, raw: "0xfeed" };
/** A bundle a reorg moved: the same transaction in the next block. */
const moved: BundleReceipt = { ...bundle, blockNumber: 43, blockHash: "0xb10c43" };
const minedAt = (depth: number, where: BundleReceipt = bundle): BundleLocation => ({ kind: "mined", bundle: where, depth });
const missing: BundleLocation = { kind: "missing" };

const approve = (approver: string, second = 1): ApprovalSignal => ({ approver, decision: "approve", at: `2026-01-01T00:01:0${second}.000Z` });
const reject = (approver: string, second = 1): ApprovalSignal => ({ approver, decision: "reject", at: `2026-01-01T00:01:0${second}.000Z` });

/** Answers each value in turn, then the last one again and again. */
const answers = <T>(...values: T[]) => {
  let next = 0;
  return () => Promise.resolve(values[Math.min(next++, values.length - 1)] as T);
};

function smartWalletRoute(script: Partial<SmartWalletSteps> & { threshold?: number; storedApproval?: TransactionApproval; indexedBlock?: () => Promise<number | null>; settings?: Partial<SmartWalletSettings> } = {}) {
  const fake = fakeWorkflowContext();
  const { recorder, transitions, published } = fakePhaseRecorder({ phase: "submitting", transactionId, txHash: null, nonce: null, error: null, blockNumber: null });
  const steps = {
    prepare: vi.fn<SmartWalletSteps["prepare"]>(script.prepare ?? (() => Promise.resolve({ owners: [alice, bob], threshold: 2, userOperation }))),
    decisions: vi.fn<SmartWalletSteps["decisions"]>(script.decisions ?? answers([approve(alice, 1), approve(bob, 2)])),
    decide: vi.fn<SmartWalletSteps["decide"]>(() => Promise.reject(new Error("the route never decides"))),
    signature: vi.fn<SmartWalletSteps["signature"]>(script.signature ?? (() => Promise.resolve(signature))),
    submit: vi.fn<SmartWalletSteps["submit"]>(script.submit ?? answers<SubmitOutcome>({ kind: "sent" })),
    receipt: vi.fn<SmartWalletSteps["receipt"]>(script.receipt ?? answers<BundleReceipt | null>(bundle)),
    locate: vi.fn<SmartWalletSteps["locate"]>(script.locate ?? ((_chainId, current) => Promise.resolve(minedAt(settings.confirmations, current)))),
    rebroadcastBundle: vi.fn<SmartWalletSteps["rebroadcastBundle"]>(script.rebroadcastBundle ?? answers({ kind: "sent" as const })),
  };
  const indexedBlock = vi.fn(script.indexedBlock ?? answers<number | null>(bundle.blockNumber));
  const route = createSmartWalletRoute({
    ctx: fake.ctx,
    steps,
    settings: { ...settings, ...script.settings },
    recorder,
    transactionId,
    operation: { ...operation, executor: { ...operation.executor, threshold: script.threshold ?? operation.executor.threshold } },
    cancel: fake.promise<CancelTransactionRequest>("cancel"),
    storedApproval: script.storedApproval ?? null,
    indexedBlock,
  });
  const state = { cancelRequested: false };
  return { route, steps, indexedBlock, fake, recorder, transitions, published, state, run: () => route.run(state) };
}

/** Lets everything the fakes have resolved run on, up to the next wait nothing has resolved. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

describe("the smart-wallet route", () => {
  it("sends an operation whose owners have all signed once and completes with the bundle's hash and block", async () => {
    const { run, steps, transitions } = smartWalletRoute();

    const status = await run();

    expect(status).toMatchObject({ phase: "completed", txHash: bundle.txHash, blockNumber: bundle.blockNumber, error: null });
    expect(transitions.map(({ phase }) => phase)).toEqual(["submitting", "confirming", "confirming", "completed"]);
    expect(transitions[0]).toMatchObject({ reason: "approved", change: { approval: { route: "smart-wallet", state: "approved", quorum: { needed: 2, given: [{ approver: alice }, { approver: bob }] } } } });
    expect(transitions[2]).toMatchObject({ change: { txHash: bundle.txHash, blockNumber: bundle.blockNumber, error: null } });
    expect(transitions[3]).toMatchObject({ change: { txHash: bundle.txHash, blockNumber: bundle.blockNumber, blockHash: bundle.blockHash } });
    expect(steps.signature).toHaveBeenCalledWith(transactionId, [alice, bob]);
    expect(steps.submit).toHaveBeenCalledOnce();
    expect(steps.submit).toHaveBeenCalledWith(userOperation, signature, { askBundlerFirst: true });
  });

  it("waits for the owners who have not signed, and a signature wakes the wait", async () => {
    const { run, fake, steps, transitions } = smartWalletRoute({ decisions: answers([approve(alice, 1)], [approve(alice, 1), approve(bob, 2)]) });

    const running = run();
    await settled();
    expect(transitions.map(({ phase }) => phase)).toEqual(["awaiting-approval"]);
    expect(transitions[0]).toMatchObject({ reason: undefined, change: { approval: { state: "pending", quorum: { given: [{ approver: alice }] } } } });
    expect(steps.signature).not.toHaveBeenCalled();

    await fake.promise<ApprovalSignal>(`approval-${bob}`).resolve(approve(bob, 2));
    await expect(running).resolves.toMatchObject({ phase: "completed" });
    expect(transitions.map(({ phase }) => phase)).toEqual(["awaiting-approval", "submitting", "confirming", "confirming", "completed"]);
    expect(transitions[1]).toMatchObject({ reason: "approved" });
  });

  it("records each signature that does not yet make the quorum as approval-given", async () => {
    const owners = [alice, bob, carol];
    const { run, fake, transitions } = smartWalletRoute({
      threshold: 3,
      prepare: () => Promise.resolve({ owners, threshold: 3, userOperation }),
      decisions: answers([approve(alice, 1)], [approve(alice, 1), approve(bob, 2)], [approve(alice, 1), approve(bob, 2), approve(carol, 3)]),
    });
    await fake.promise<ApprovalSignal>(`approval-${bob}`).resolve(approve(bob, 2));
    await fake.promise<ApprovalSignal>(`approval-${carol}`).resolve(approve(carol, 3));

    await run();

    expect(transitions.slice(0, 3).map(({ phase, reason }) => [phase, reason])).toEqual([
      ["awaiting-approval", undefined],
      ["awaiting-approval", "approval-given"],
      ["submitting", "approved"],
    ]);
  });

  it("ends APPROVAL_REJECTED once so many owners rejected that the quorum cannot come, and sends nothing", async () => {
    const { run, steps } = smartWalletRoute({
      prepare: () => Promise.resolve({ owners: [alice, bob, carol], threshold: 2, userOperation }),
      decisions: answers([approve(alice, 1), reject(bob, 2), reject(carol, 3)]),
    });

    const ended = await run().catch((error: unknown) => error);

    expect(ended).toBeInstanceOf(RunEnded);
    expect(ended).toMatchObject({ code: "APPROVAL_REJECTED", message: expect.stringContaining(`${bob}, ${carol}`), change: { txHash: null, approval: { state: "rejected" } } });
    expect(steps.signature).not.toHaveBeenCalled();
    expect(steps.submit).not.toHaveBeenCalled();
  });

  it("ends CANCELLED before building the operation when the cancel came first", async () => {
    const { route, fake, steps } = smartWalletRoute();

    const ended = await route.run({ cancelRequested: true }).catch((error: unknown) => error);

    expect(ended).toBeInstanceOf(RunEnded);
    expect(ended).toMatchObject({ code: "CANCELLED", change: { txHash: null, nonce: null } });
    expect(steps.prepare).not.toHaveBeenCalled();
    expect(fake.runs).toEqual([]);
  });

  it("ends CANCELLED when a cancel request wakes the owners' wait, the approval marked cancelled and nothing sent", async () => {
    const { run, fake, state, steps } = smartWalletRoute({ decisions: answers([approve(alice, 1)]) });

    const running = run().catch((error: unknown) => error);
    await settled();
    await fake.promise<CancelTransactionRequest>("cancel").resolve({ reason: "changed my mind" });
    const ended = await running;

    expect(ended).toBeInstanceOf(RunEnded);
    expect(ended).toMatchObject({ code: "CANCELLED", change: { approval: { state: "cancelled", decidedAt: new Date(fake.now()).toISOString() } } });
    expect(state.cancelRequested).toBe(true);
    expect(steps.signature).not.toHaveBeenCalled();
    expect(steps.submit).not.toHaveBeenCalled();
  });

  it("takes the operation and signers an earlier run stored as approved: nothing is prepared or counted again", async () => {
    const storedOperation = { ...userOperation, nonce: "7", userOpHash: "0x0bad7" };
    const storedApproval: TransactionApproval = {
      route: "smart-wallet",
      state: "approved",
      requestedAt: "2026-01-01T00:00:00.000Z",
      decidedAt: "2026-01-01T00:01:02.000Z",
      expiresAt: null,
      provider: null,
      quorum: { needed: 2, given: [{ approver: bob, at: "2026-01-01T00:01:01.000Z" }, { approver: alice, at: "2026-01-01T00:01:02.000Z" }], approvers: [alice, bob], rejectedBy: null },
      userOperation: storedOperation,
    };
    const { run, steps, published } = smartWalletRoute({ storedApproval });

    await expect(run()).resolves.toMatchObject({ phase: "completed", approval: storedApproval });

    expect(published).toEqual([expect.objectContaining({ approval: storedApproval })]);
    expect(steps.prepare).not.toHaveBeenCalled();
    expect(steps.decisions).not.toHaveBeenCalled();
    expect(steps.signature).toHaveBeenCalledWith(transactionId, [bob, alice]);
    expect(steps.submit).toHaveBeenCalledOnce();
    expect(steps.submit).toHaveBeenCalledWith(storedOperation, signature, { askBundlerFirst: true });
    expect(steps.receipt).toHaveBeenCalledWith(operation.chainId, storedOperation.userOpHash);
  });

  it("waits BLOCKED_BY_QUEUE while an earlier operation of the account goes first, then confirms once sent", async () => {
    const { run, steps, transitions } = smartWalletRoute({ submit: answers<SubmitOutcome>({ kind: "queue-full", message: "nonce 6 not executed" }, { kind: "queue-full", message: "nonce 6 not executed" }, { kind: "sent" }) });

    await expect(run()).resolves.toMatchObject({ phase: "completed", error: null });

    expect(steps.submit).toHaveBeenCalledTimes(3);
    expect(transitions.map(({ phase }) => phase)).toEqual(["submitting", "blocked", "confirming", "confirming", "completed"]);
    expect(transitions[1]).toMatchObject({ change: { error: { code: "BLOCKED_BY_QUEUE", message: `the queue of account ${wallet} is blocked: nonce 6 not executed` } } });
    expect(transitions[2]).toEqual({ phase: "confirming", change: { error: null }, reason: undefined });
  });

  it("pauses between attempts while blocked from pollIntervalMs, doubling up to maxBlockedRetryMs", async () => {
    const full: SubmitOutcome = { kind: "queue-full", message: "nonce 6 not executed" };
    const { run, fake } = smartWalletRoute({ submit: answers<SubmitOutcome>(full, full, full, full, { kind: "sent" }) });

    await run();

    expect(fake.sleeps).toEqual([1_000, 2_000, 3_000, 3_000]);
    expect(fake.runs.filter(({ name }) => name.startsWith("smart-wallet-submit-")).map(({ name }) => name)).toEqual([0, 1, 2, 3, 4].map((attempt) => `smart-wallet-submit-first-${attempt}`));
  });

  it("rides out an outage of the bundler after the owners signed: the submit step has no retry budget", async () => {
    const { run, fake, steps } = smartWalletRoute({
      submit: vi
        .fn<SmartWalletSteps["submit"]>()
        .mockRejectedValueOnce(new Error("fetch failed"))
        .mockRejectedValueOnce(new Error("fetch failed"))
        .mockResolvedValue({ kind: "sent" }),
    });

    await expect(run()).resolves.toMatchObject({ phase: "completed" });

    expect(steps.submit).toHaveBeenCalledTimes(3);
    expect(fake.runs.find(({ name }) => name === "smart-wallet-submit-first-0")?.policy).not.toHaveProperty("maxRetryDuration");
    expect(fake.runs.find(({ name }) => name === "smart-wallet-prepare")?.policy).toMatchObject({ maxRetryDuration: { milliseconds: settings.preBroadcastRetryMs } });
  });

  it("ends EXECUTION_REVERTED with the revert reason when the bundle executed the call and it reverted", async () => {
    const { run, transitions } = smartWalletRoute({ receipt: answers<BundleReceipt | null>({ ...bundle, success: false, reason: "ERC20: transfer amount exceeds balance" }) });

    const ended = await run().catch((error: unknown) => error);

    expect(ended).toBeInstanceOf(RunEnded);
    expect(ended).toMatchObject({
      code: "EXECUTION_REVERTED",
      message: "the call reverted in the bundle: ERC20: transfer amount exceeds balance",
      change: { txHash: bundle.txHash, blockNumber: bundle.blockNumber },
    });
    expect(transitions.map(({ phase }) => phase)).not.toContain("completed");
  });

  it("keeps polling with durable sleeps until the bundle is at confirmation depth", async () => {
    const { run, fake, steps } = smartWalletRoute({ locate: answers(minedAt(0), minedAt(1), minedAt(2)), settings: { confirmations: 2 } });

    await expect(run()).resolves.toMatchObject({ phase: "completed" });

    expect(steps.locate).toHaveBeenCalledTimes(3);
    expect(steps.receipt).toHaveBeenCalledOnce();
    expect(fake.sleeps).toEqual([settings.pollIntervalMs, settings.pollIntervalMs]);
  });

  it("completes only once the indexer has read the bundle's block, waiting while it is behind or cannot say", async () => {
    const { run, fake, indexedBlock } = smartWalletRoute({ indexedBlock: answers<number | null>(bundle.blockNumber - 1, null, bundle.blockNumber) });

    await expect(run()).resolves.toMatchObject({ phase: "completed" });

    expect(indexedBlock).toHaveBeenCalledTimes(3);
    expect(fake.sleeps).toEqual([settings.pollIntervalMs, settings.pollIntervalMs]);
  });

  it("without a receipt, asks the bundler again every tenth look with the same signed operation", async () => {
    const noReceipt: (BundleReceipt | null)[] = Array.from({ length: 10 }, () => null);
    const { run, fake, steps } = smartWalletRoute({ receipt: answers<BundleReceipt | null>(...noReceipt, bundle), submit: answers<SubmitOutcome>({ kind: "sent" }, { kind: "known" }) });

    await expect(run()).resolves.toMatchObject({ phase: "completed" });

    expect(steps.submit).toHaveBeenCalledTimes(2);
    expect(steps.submit).toHaveBeenNthCalledWith(2, userOperation, signature, { askBundlerFirst: true });
    expect(fake.runs.filter(({ name }) => name.startsWith("smart-wallet-submit-")).map(({ name }) => name)).toEqual(["smart-wallet-submit-first-0", "smart-wallet-submit-recheck-10-0"]);
  });

  it("follows the bundle to the block a reorg moved it to, back in confirming, and completes there", async () => {
    const { run, transitions } = smartWalletRoute({ locate: answers(minedAt(1), minedAt(settings.confirmations, moved)), indexedBlock: answers<number | null>(moved.blockNumber) });

    await expect(run()).resolves.toMatchObject({ phase: "completed", txHash: moved.txHash, blockNumber: moved.blockNumber });

    expect(transitions.filter(({ change }) => change.blockNumber).map(({ phase, change, reason }) => [phase, change.blockNumber, reason])).toEqual([
      ["confirming", bundle.blockNumber, undefined],
      ["confirming", moved.blockNumber, "reorg"],
      ["completed", moved.blockNumber, undefined],
    ]);
  });

  it("sends the bytes of a bundle a reorg dropped again, and confirms it where it lands", async () => {
    const { run, steps, transitions } = smartWalletRoute({ locate: answers(missing, minedAt(settings.confirmations, moved)), indexedBlock: answers<number | null>(moved.blockNumber) });

    await expect(run()).resolves.toMatchObject({ phase: "completed", blockNumber: moved.blockNumber });

    expect(steps.rebroadcastBundle).toHaveBeenCalledExactlyOnceWith(operation.chainId, bundle.raw);
    expect(steps.submit).toHaveBeenCalledOnce();
    expect(transitions).toContainEqual({ phase: "confirming", change: { blockNumber: null, error: null }, reason: "reorg" });
  });

  it("sends the operation to the bundler again, without asking it first, when the node refuses a dropped bundle's bytes", async () => {
    const { run, fake, steps } = smartWalletRoute({ locate: answers(missing, minedAt(settings.confirmations, moved)), rebroadcastBundle: answers({ kind: "nonce-used" as const }), indexedBlock: answers<number | null>(moved.blockNumber) });

    await run();

    expect(steps.submit).toHaveBeenCalledTimes(2);
    expect(steps.submit).toHaveBeenLastCalledWith(userOperation, signature, { askBundlerFirst: false });
    expect(fake.runs.filter(({ name }) => name.startsWith("smart-wallet-submit-after-reorg-"))).toHaveLength(1);
  });

  it("while the operation stays off the chain, tries to bring it back every tenth look only", async () => {
    const offChain = Array.from({ length: 15 }, () => missing);
    const { run, steps } = smartWalletRoute({ locate: answers(...offChain, minedAt(settings.confirmations, moved)), indexedBlock: answers<number | null>(moved.blockNumber) });

    await run();

    expect(steps.rebroadcastBundle).toHaveBeenCalledTimes(2);
  });

  it("ends EXECUTION_REVERTED when the operation a reorg moved reverted in its new bundle", async () => {
    const { run } = smartWalletRoute({ locate: answers(minedAt(1), minedAt(1, { ...moved, txHash: "0xb0b2", success: false })) });

    await expect(run()).rejects.toMatchObject({ code: "EXECUTION_REVERTED", change: { txHash: "0xb0b2", blockNumber: moved.blockNumber } });
  });

  it("entered again after a Restate cancellation while confirming, it follows the operation without sending it again", async () => {
    const { run, route, fake, steps } = smartWalletRoute({ receipt: answers<BundleReceipt | null>(null, bundle) });
    fake.cancelAtSleep(0);

    await expect(run()).rejects.toBeInstanceOf(restate.CancelledError);
    expect(route.progress.submitted).toBe(true);
    await expect(run()).resolves.toMatchObject({ phase: "completed", txHash: bundle.txHash });

    expect(steps.prepare).toHaveBeenCalledOnce();
    expect(steps.signature).toHaveBeenCalledOnce();
    expect(steps.submit).toHaveBeenCalledOnce();
  });
});
