/**
 * A transaction key that runs a second time (after its run was purged, killed, or dead-lettered)
 * never executes its call again: it reports the stored outcome, or resumes watching the bytes it
 * signed before, and records and announces what the new run does.
 */
import { parseGwei, type Hex } from "viem";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { listDeadLetters } from "../../shared/db/repositories/dead-letters.ts";
import { listTransactionSignatures } from "../../shared/db/repositories/transaction-signatures.ts";
import { listTransactionTransitions } from "../../shared/db/repositories/transactions.ts";
import { transactionExecutionWorkflow } from "../../services/workflows/transaction-execution/api.ts";
import { startDapiHarness, untilTimersQuiet, type DapiHarness } from "../helpers/dapi-harness.ts";
import { createInvocationTools, type InvocationTools } from "../helpers/restate-invocations.ts";
import { startTcpProxy, targetOf, type TcpProxy } from "../helpers/tcp-proxy.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";
import type { WebhookReceiver } from "../helpers/webhook-receiver.ts";
import { subscribeWebhookReceiver, type WebhookSubscriber } from "../helpers/webhook-subscriber.ts";
import { inject } from "vitest";

const WORKFLOW = transactionExecutionWorkflow.name;

describe("a second run of a transaction key", () => {
  let h: TransactionHarness;
  let dapi: DapiHarness;
  let restate: InvocationTools;
  let database: TcpProxy;
  let receiver: WebhookReceiver;
  let webhooks: WebhookSubscriber;

  beforeAll(async () => {
    // The worker reaches the database through a proxy the tests can take down; the tests' own
    // connection does not.
    database = await startTcpProxy(targetOf(inject("databaseUrl")));
    h = await startTransactionHarness({
      senders: 3,
      name: "second-run-worker",
      env: { DATABASE_URL: database.proxied(inject("databaseUrl")), TX_PREBROADCAST_RETRY_BUDGET_MS: "3000" },
    });
    dapi = await startDapiHarness();
    restate = createInvocationTools(h.stack);
    webhooks = await subscribeWebhookReceiver(h.db, ["transaction.confirming", "transaction.completed", "transaction.dead-letter"]);
    receiver = webhooks.receiver;
  });
  afterEach(async () => {
    database.setDown(false);
    await h.tools.client.setAutomine(true);
  });
  afterAll(async () => {
    await webhooks.close();
    await dapi.close();
    await h.stop();
    await database.close();
  });

  async function broadcastWhileManualMining(signer: Hex) {
    await h.tools.client.setAutomine(false);
    const transactionId = await h.submit(signer, signer, { value: "1" });
    const confirming = await waitFor("the broadcast", async () => {
      const status = await h.client.getTransactionStatus(transactionId);
      return status?.phase === "confirming" && status.txHash ? status : undefined;
    });
    return { transactionId, hash: confirming.txHash!, nonce: confirming.nonce! };
  }

  it("reads a purged run's status from the transaction record, not a default phase", async () => {
    const transactionId = await h.submit(h.senders[0]!.address, h.senders[0]!.address, { value: "1" });
    const first = await h.client.waitForTransaction(transactionId);
    await restate.purgeFinished(WORKFLOW, transactionId);

    expect(await h.client.getTransactionStatus(transactionId)).toMatchObject({ phase: "completed", txHash: first.txHash, nonce: first.nonce });
  });

  it("does not execute a completed transaction again when its id is submitted after the run was purged", async () => {
    const signer = h.senders[0]!.address;
    const transactionId = await h.submit(signer, signer, { value: "1" });
    const first = await h.client.waitForTransaction(transactionId);
    const fromBlock = await h.tools.client.getBlockNumber();
    await restate.purgeFinished(WORKFLOW, transactionId);

    await h.submit(signer, signer, { transactionId, value: "1" });
    await waitFor("the second run to end", async () => (await restate.invocationsOf(WORKFLOW, transactionId, "run")).find((row) => row.status === "completed"));

    expect(await h.client.waitForTransaction(transactionId)).toMatchObject({ phase: "completed", txHash: first.txHash, nonce: first.nonce });
    expect(await h.tools.minedTransactionsOf(signer, fromBlock + 1n)).toEqual([]);
    expect(await h.tools.client.getTransactionCount({ address: signer })).toBe(first.nonce! + 1);
  });

  it("resumes a killed, fee-replaced transaction after recovery and reports the original it finds mined, once", async () => {
    const signer = h.senders[1]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    const original = await broadcastWhileManualMining(signer);
    const originalRaw = await h.tools.client.request({ method: "eth_getRawTransactionByHash" as never, params: [original.hash] as never }) as Hex;
    const offered = (await h.tools.client.getTransaction({ hash: original.hash })).maxFeePerGas!;
    await h.tools.client.setNextBlockBaseFeePerGas({ baseFeePerGas: offered * 2n });
    await h.tools.client.mine({ blocks: 1 });
    const replacement = await waitFor("a fee replacement", async () => {
      const signed = await listTransactionSignatures(h.db, original.transactionId);
      return signed.length >= 2 ? signed.at(-1)! : undefined;
    }, { timeoutMs: 30_000 });
    const transitionsOfFirstRun = (await listTransactionTransitions(h.db, original.transactionId)).length;

    await restate.killRun(WORKFLOW, original.transactionId);
    // The killed run may still have a sleep due: recovery answers Retry-After until it has fired.
    const recovered = await untilTimersQuiet(() =>
      dapi.call("POST", "/api/v2/admin/operator/restate/recover-stuck-workflow", { serviceName: WORKFLOW, serviceKey: original.transactionId }),
    );
    expect(recovered.status).toBe(200);
    // Meanwhile the chain mines the original, not its replacement.
    await h.tools.client.dropTransaction({ hash: replacement.hash as Hex });
    await h.tools.client.setNextBlockBaseFeePerGas({ baseFeePerGas: parseGwei("1") });
    await h.tools.client.mine({ blocks: 1 });
    await h.tools.client.sendRawTransaction({ serializedTransaction: originalRaw });
    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });

    await h.submit(signer, signer, { transactionId: original.transactionId, value: "1" });
    const final = await h.client.waitForTransaction(original.transactionId, { timeoutMs: 60_000 });

    expect(final).toMatchObject({ phase: "completed", txHash: original.hash, nonce: original.nonce });
    expect((await h.tools.minedTransactionsOf(signer, fromBlock)).map((tx) => tx.hash)).toEqual([original.hash]);
    expect(await h.client.getTransactionStatus(original.transactionId, { source: "database" })).toMatchObject({ phase: "completed", txHash: original.hash });
    const transitions = await listTransactionTransitions(h.db, original.transactionId);
    expect(transitions.length).toBeGreaterThan(transitionsOfFirstRun);
    expect(transitions.at(-1)).toMatchObject({ phase: "completed", txHash: original.hash });
  });

  it("ends in dead-letter with a row when the database stays away longer than the pre-broadcast budget while loading", async () => {
    database.setDown(true);
    const transactionId = await h.submit(h.senders[2]!.address, h.senders[2]!.address, { value: "1" });
    await waitFor("the load step to give up and the run to file its dead letter", () => fillingDeadLetter(transactionId), { timeoutMs: 90_000 });
    database.setDown(false);

    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase).toBe("dead-letter");
    const letters = await listDeadLetters(h.db, { kind: "transaction", status: "open", limit: 100 });
    expect(letters).toContainEqual(expect.objectContaining({ referenceId: transactionId, causeCode: "RETRY_BUDGET_EXHAUSTED" }));
  });

  it("replays a dead-lettered transaction whose earlier bytes are still pending: one execution, and the new run's records and events", async () => {
    const signer = h.senders[2]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    const sent = await broadcastWhileManualMining(signer);
    await restate.killRun(WORKFLOW, sent.transactionId);
    await restate.purgeFinished(WORKFLOW, sent.transactionId);

    // The next run cannot load the operation for longer than its budget: dead-letter.
    database.setDown(true);
    await h.submit(signer, signer, { transactionId: sent.transactionId, value: "1" });
    await waitFor("the second run to start dead-lettering", () => fillingDeadLetter(sent.transactionId), { timeoutMs: 90_000 });
    database.setDown(false);
    expect((await h.client.waitForTransaction(sent.transactionId, { timeoutMs: 60_000 })).phase).toBe("dead-letter");
    const [letter] = (await listDeadLetters(h.db, { kind: "transaction", status: "open", limit: 100 })).filter((row) => row.referenceId === sent.transactionId);
    const sequencesBefore = (await listTransactionTransitions(h.db, sent.transactionId)).map((t) => t.sequence);
    await waitFor("the dead-lettered run to end", async () => (await restate.invocationsOf(WORKFLOW, sent.transactionId, "run")).every((row) => row.status === "completed"));

    const replayed = await dapi.call("POST", `/api/v2/admin/operator/dead-letters/${letter!.id}/replay`, {});
    expect(replayed.status).toBe(200);
    await waitFor("the third run to watch the pending bytes", async () => {
      const transitions = await listTransactionTransitions(h.db, sent.transactionId);
      return transitions.at(-1)?.phase === "confirming" ? true : undefined;
    });
    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });
    const final = await h.client.waitForTransaction(sent.transactionId, { timeoutMs: 60_000 });

    // One execution on the earlier nonce: the pending bytes, or their fee bump when the machine was
    // slow enough for the stuck interval (3 s here) to pass before the test mined.
    const mined = await h.tools.minedTransactionsOf(signer, fromBlock);
    expect(mined.map((tx) => tx.nonce)).toEqual([sent.nonce]);
    expect(final).toMatchObject({ phase: "completed", txHash: mined[0]!.hash, nonce: sent.nonce });
    const transitions = await listTransactionTransitions(h.db, sent.transactionId);
    const newRows = transitions.filter((t) => !sequencesBefore.includes(t.sequence));
    // The replay reopens the record, then the new run watches the pending bytes to completion.
    expect(newRows.map((t) => [t.phase, t.reason])).toEqual([
      ["submitting", "dead-letter-replay"],
      ["confirming", null],
      ["completed", null],
    ]);
    // Each of the new run's phase events reached the receiver, under event ids of their own.
    const completedEvent = `evt_${sent.transactionId}_${newRows.at(-1)!.sequence}`;
    await waitFor("the new run's completion event", async () => receiver.accepted().some((webhook) => webhook.id === completedEvent));
    const ids = receiver.accepted().filter((webhook) => (webhook.body.data as { transactionId?: string }).transactionId === sent.transactionId).map((w) => w.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("keeps completed runs for the configured retention, seven days unless set", async () => {
    const service = await restate.admin.getService(WORKFLOW);
    expect(service.workflow_completion_retention).toMatch(/^(7d|7days|168h|604800s)$/);
  });

  /**
   * Whether the key's active run gave up its first step (the budget ran out: the step's failure is
   * journaled) and now waits for the database to store the operation and file its dead letter.
   */
  async function fillingDeadLetter(transactionId: string): Promise<true | undefined> {
    const run = await restate.activeRun(WORKFLOW, transactionId);
    const entries = await restate.admin.query<{ name?: string }>(`SELECT name FROM sys_journal WHERE id = '${run.id}'`);
    return entries.some((entry) => entry.name === "begin") ? true : undefined;
  }
});
