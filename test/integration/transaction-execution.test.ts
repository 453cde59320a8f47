import { encodeFunctionData, parseEther, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asc, eq } from "drizzle-orm";
import { compiledContract } from "../../infra/contracts/compile.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { transactionTransitions } from "../../shared/db/schema/index.ts";
import type { TransactionPhase, TransactionStatus } from "../../services/workflows/transaction-execution/status.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";

describe("TransactionExecutionWorkflow", () => {
  let h: TransactionHarness;
  let probe: Hex;
  let pokeData: (tag: number) => Hex;
  let failData: (reason: string) => Hex;

  beforeAll(async () => {
    h = await startTransactionHarness({ senders: 4 });
    const contract = await compiledContract("ExecutionProbe");
    probe = await h.tools.deploy("ExecutionProbe", await h.tools.newSender());
    pokeData = (tag) => encodeFunctionData({ abi: contract.abi, functionName: "poke", args: [BigInt(tag)] });
    failData = (reason) => encodeFunctionData({ abi: contract.abi, functionName: "fail", args: [reason] });
  });
  afterAll(async () => {
    await h.stop();
  });

  const sender = (index: number) => h.senders[index]!;

  /** Polls the workflow's status until it is terminal, remembering every phase it showed. */
  async function followPhases(transactionId: string): Promise<{ seen: TransactionPhase[]; final: TransactionStatus }> {
    const seen: TransactionPhase[] = [];
    const final = await waitFor(`transaction ${transactionId} to end`, async () => {
      const status = await h.client.getTransactionStatus(transactionId);
      if (status && seen.at(-1) !== status.phase) seen.push(status.phase);
      return status && ["completed", "failed", "dead-letter"].includes(status.phase) ? status : undefined;
    }, { timeoutMs: 60_000, intervalMs: 20 });
    return { seen, final };
  }

  async function transitionsOf(transactionId: string) {
    return h.db.select().from(transactionTransitions).where(eq(transactionTransitions.transactionId, transactionId)).orderBy(asc(transactionTransitions.sequence));
  }

  it("completes a value transfer, and the database record agrees with the status at every phase", async () => {
    const recipient = (await h.tools.newSender("0")).address;
    const transactionId = await h.submit(sender(0).address, recipient, { value: parseEther("1.5").toString() });
    const { seen, final } = await followPhases(transactionId);

    expect(final).toMatchObject({ phase: "completed", transactionId, nonce: 0, error: null });
    expect(await h.tools.client.getBalance({ address: recipient })).toBe(parseEther("1.5"));
    const transitions = await transitionsOf(transactionId);
    expect(transitions.map((t) => t.phase)).toEqual(["submitting", "confirming", "completed"]);
    // Every phase the workflow showed is one the database recorded, in the same order.
    expect(transitions.map((t) => t.phase)).toEqual(expect.arrayContaining(seen));
    const record = await h.client.getTransactionStatus(transactionId, { source: "database" });
    expect(record).toMatchObject({ phase: "completed", txHash: final.txHash, nonce: final.nonce });
    const receipt = await h.tools.client.getTransactionReceipt({ hash: final.txHash! });
    expect(receipt.status).toBe("success");
    expect(record?.blockNumber).toBe(Number(receipt.blockNumber));
  });

  it("completes a contract call with the attribution suffix appended to the calldata", async () => {
    const transactionId = await h.submit(sender(1).address, probe, { data: pokeData(7) });
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    const mined = await h.tools.client.getTransaction({ hash: final.txHash! });
    expect(mined.input).toBe(`${pokeData(7)}dd01`);
    const contract = await compiledContract("ExecutionProbe");
    const calls = await h.tools.client.readContract({ address: probe, abi: contract.abi, functionName: "callsBy", args: [sender(1).address] });
    expect(calls).toBe(1n);
  });

  it("ends a reverting call `failed` with the revert reason and no nonce used", async () => {
    const nonceBefore = await h.tools.client.getTransactionCount({ address: sender(2).address });
    const transactionId = await h.submit(sender(2).address, probe, { data: failData("limit exceeded") });
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final).toMatchObject({ phase: "failed", error: { code: "EXECUTION_REVERTED", message: "limit exceeded" } });
    expect(await h.tools.client.getTransactionCount({ address: sender(2).address })).toBe(nonceBefore);
  });

  it("ends a mined call that reverts on chain `failed` with its revert reason", async () => {
    // A fixed gas limit skips estimation, so the call is mined and reverts on chain.
    const transactionId = await h.submit(sender(2).address, probe, { data: failData("paused by compliance"), gas: { gasLimit: "100000" } });
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final).toMatchObject({ phase: "failed", error: { code: "EXECUTION_REVERTED", message: "paused by compliance" } });
    const receipt = await h.tools.client.getTransactionReceipt({ hash: final.txHash! });
    expect(receipt.status).toBe("reverted");
  });

  it("refuses a call to an address without code before using a nonce, and the next transaction takes that nonce", async () => {
    const signer = sender(3).address;
    const nonceBefore = await h.tools.client.getTransactionCount({ address: signer });
    const noCode = (await h.tools.newSender("0")).address;
    const refused = await h.submit(signer, noCode, { data: pokeData(1) });
    const failed = await h.client.waitForTransaction(refused, { timeoutMs: 60_000 });
    expect(failed).toMatchObject({ phase: "failed", txHash: null, nonce: null, error: { code: "TARGET_HAS_NO_CODE" } });
    expect(await h.tools.client.getTransactionCount({ address: signer, blockTag: "pending" })).toBe(nonceBefore);

    const next = await h.submit(signer, probe, { data: pokeData(2) });
    expect(await h.client.waitForTransaction(next, { timeoutMs: 60_000 })).toMatchObject({ phase: "completed", nonce: nonceBefore });
  });

  it("runs a transaction id submitted ten times at once exactly once", async () => {
    const transactionId = h.newTransactionId();
    const request = {
      transactionId,
      organizationId: h.organizationId,
      chainId: h.stack.chainId,
      signerAddress: sender(0).address,
      target: probe,
      data: pokeData(99),
      executor: { route: "eoa" as const },
    };
    const results = await Promise.all(Array.from({ length: 10 }, () => h.client.submitTransaction(request)));
    expect(new Set(results.map((r) => r.invocationId)).size).toBe(1);
    expect(results.filter((r) => !r.attached)).toHaveLength(1);
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    const transitions = await transitionsOf(transactionId);
    expect(transitions.filter((t) => t.phase === "completed")).toHaveLength(1);
    const contract = await compiledContract("ExecutionProbe");
    const logs = await h.tools.client.getContractEvents({ address: probe, abi: contract.abi, eventName: "Poked", args: { tag: 99n }, fromBlock: 0n });
    expect(logs).toHaveLength(1);
  });

  it("rejects the same transaction id with another executor selection and changes nothing", async () => {
    const transactionId = h.newTransactionId();
    const request = {
      transactionId,
      organizationId: h.organizationId,
      chainId: h.stack.chainId,
      signerAddress: sender(1).address,
      target: probe,
      data: pokeData(5),
      executor: { route: "eoa" as const },
    };
    await h.client.submitTransaction(request);
    await expect(
      h.client.submitTransaction({ ...request, executor: { route: "custody", provider: "fireblocks", vaultId: "v1" } }),
    ).rejects.toMatchObject({ code: "EXECUTOR_SELECTION_MISMATCH" });
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("completed");
    const record = await h.client.getTransactionStatus(transactionId, { source: "database" });
    expect(record?.phase).toBe("completed");
  });

  it("refuses the same transaction id with another gas policy as a reused id, and changes nothing", async () => {
    const request = {
      transactionId: h.newTransactionId(),
      organizationId: h.organizationId,
      chainId: h.stack.chainId,
      signerAddress: sender(1).address,
      target: probe,
      data: pokeData(6),
      gas: { gasLimit: "90000" },
      executor: { route: "eoa" as const },
    };
    await h.client.submitTransaction(request);
    await expect(h.client.submitTransaction({ ...request, gas: { gasLimit: "95000" } })).rejects.toMatchObject({ code: "TRANSACTION_ID_REUSED" });
    expect(await h.client.waitForTransaction(request.transactionId, { timeoutMs: 60_000 })).toMatchObject({ phase: "completed" });
    expect((await h.tools.client.getTransaction({ hash: (await h.client.getTransactionStatus(request.transactionId))!.txHash! })).gas).toBe(90_000n);
  });

  it("scopes idempotency keys per organization: two organizations may use the same key", async () => {
    const idempotencyKey = `order-${crypto.randomUUID()}`;
    const submitFor = (organizationId: string) =>
      h.client.submitTransaction({
        transactionId: h.newTransactionId(),
        organizationId,
        chainId: h.stack.chainId,
        signerAddress: sender(0).address,
        target: sender(0).address,
        value: "1",
        idempotencyKey,
        executor: { route: "eoa" },
      });
    const [first, second] = [await submitFor(`${h.organizationId}-a`), await submitFor(`${h.organizationId}-b`)];
    await expect(submitFor(`${h.organizationId}-a`)).rejects.toMatchObject({ code: "IDEMPOTENCY_KEY_REUSED" });
    const finals = await Promise.all([first, second].map((s) => h.client.waitForTransaction(s.transactionId, { timeoutMs: 60_000 })));
    expect(finals.map((final) => final.phase)).toEqual(["completed", "completed"]);
  });

  it("refuses an unknown signer route terminally without touching the chain", async () => {
    const transactionId = h.newTransactionId();
    const nonceBefore = await h.tools.client.getTransactionCount({ address: sender(3).address, blockTag: "pending" });
    await h.client.submitTransaction({
      transactionId,
      organizationId: h.organizationId,
      chainId: h.stack.chainId,
      signerAddress: sender(3).address,
      target: probe,
      data: pokeData(3),
      executor: { route: "sign-only", provider: "hsm" },
    });
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final).toMatchObject({ phase: "failed", error: { code: "SIGNER_ROUTE_UNSUPPORTED" } });
    expect(await h.tools.client.getTransactionCount({ address: sender(3).address, blockTag: "pending" })).toBe(nonceBefore);
  });

  it("names the bad field of an invalid request and stores nothing", async () => {
    const transactionId = h.newTransactionId();
    await expect(
      h.client.submitTransaction({
        transactionId,
        organizationId: h.organizationId,
        chainId: h.stack.chainId,
        signerAddress: "0x1234",
        target: probe,
        executor: { route: "eoa" },
      }),
    ).rejects.toThrowError(/signerAddress/);
    expect(await h.client.getTransactionStatus(transactionId, { source: "database" })).toBeNull();
  });
});
