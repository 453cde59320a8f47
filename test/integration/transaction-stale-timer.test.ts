/**
 * A killed run's pending timer outlives the kill and the purge on Restate 1.7: when it comes due it
 * is delivered to whatever invocation then has the same id. A workflow's `run` has the same id on
 * every run of its key, so a key recovered and resubmitted while the killed run still had a sleep
 * due gets that sleep's completion in its own journal, at the place of another step, and never
 * ends. The operator paths (recover-stuck-workflow, dead-letter replay, reconciliation re-drive)
 * therefore wait until the killed run's sleeps have come due before they purge it.
 */
import * as clients from "@restatedev/restate-sdk-clients";
import type { Hex } from "viem";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { getDeadLetter, insertDeadLetter } from "../../shared/db/repositories/dead-letters.ts";
import { latestReconciliationReports } from "../../shared/db/repositories/reconciliation.ts";
import { getTransaction } from "../../shared/db/repositories/transactions.ts";
import type { TransactionReconciler } from "../../services/workflows/reconciliation/object.ts";
import { transactionExecutionWorkflow } from "../../services/workflows/transaction-execution/api.ts";
import { startDapiHarness, untilTimersQuiet, type DapiHarness } from "../helpers/dapi-harness.ts";
import { createInvocationTools, type InvocationTools } from "../helpers/restate-invocations.ts";
import { startTcpProxy, targetOf, type TcpProxy } from "../helpers/tcp-proxy.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";

const WORKFLOW = transactionExecutionWorkflow.name;
const RECOVER = "/api/v2/admin/operator/restate/recover-stuck-workflow";
/** The run's stuck interval: the fast path sleeps this long while it waits for the first block. */
const STUCK_AFTER_MS = 15_000;

type JournalRow = { index: number; entry_type: string; name?: string; entry_lite_json?: string };

/** The completion id of a journal v2 command or notification (entry_lite_json). */
function completionIdOf(row: JournalRow): number | undefined {
  const entry = JSON.parse(row.entry_lite_json ?? "null") as { Command?: Record<string, { completion_id?: number }>; Notification?: { id?: { CompletionId?: number } } } | null;
  if (entry?.Notification) return entry.Notification.id?.CompletionId;
  return Object.values(entry?.Command ?? {})[0]?.completion_id;
}

describe("a transaction key whose killed run still has a timer pending", () => {
  let h: TransactionHarness;
  let dapi: DapiHarness;
  let restate: InvocationTools;
  let database: TcpProxy;
  const reconciler = () => clients.connect({ url: h.stack.restateIngressUrl }).objectClient<TransactionReconciler>({ name: "TransactionReconciler" }, String(h.stack.chainId));

  beforeAll(async () => {
    // The worker reaches the database through a proxy the test can take down; the test's own
    // connection does not.
    database = await startTcpProxy(targetOf(inject("databaseUrl")));
    h = await startTransactionHarness({
      senders: 4,
      name: "stale-timer-worker",
      env: {
        DATABASE_URL: database.proxied(inject("databaseUrl")),
        TX_STUCK_AFTER_MS: String(STUCK_AFTER_MS),
        TX_PREBROADCAST_RETRY_BUDGET_MS: "120000",
        RECONCILE_STALE_AFTER_MS: "500",
      },
    });
    dapi = await startDapiHarness();
    restate = createInvocationTools(h.stack);
  });
  afterEach(async () => {
    database.setDown(false);
    await h.tools.client.setAutomine(true);
  });
  afterAll(async () => {
    await reconciler().stop();
    await dapi.close();
    await h.stop();
    await database.close();
  });

  const journalOf = (invocationId: string) =>
    restate.admin.query<JournalRow>(`SELECT index, entry_type, name, entry_lite_json FROM sys_journal WHERE id = '${invocationId}' ORDER BY index`);
  const sleepsOf = async (invocationId: string) =>
    (await journalOf(invocationId))
      .filter((row) => row.entry_type === "Command: Sleep")
      .map((row) => (JSON.parse(row.entry_lite_json!) as { Command: { Sleep: { wake_up_time: number; completion_id: number } } }).Command.Sleep);

  /**
   * Broadcasts a transfer while nothing is mined, then kills its run while the run sleeps out the
   * stuck interval (racing the first block). Returns the killed run and its pending sleep.
   */
  async function killWhileSleeping(signer: Hex) {
    await h.tools.client.setAutomine(false);
    const transactionId = await h.submit(signer, signer, { value: "1" });
    const sent = await waitFor("the broadcast", async () => {
      const status = await h.client.getTransactionStatus(transactionId);
      return status?.phase === "confirming" && status.txHash ? status : undefined;
    });
    const run = await restate.activeRun(WORKFLOW, transactionId);
    const sleep = await waitFor("the run's stuck-interval sleep", async () => (await sleepsOf(run.id)).find((row) => row.wake_up_time > Date.now() + 5_000));
    await restate.killRun(WORKFLOW, transactionId);
    return { transactionId, sent, killedId: run.id, wakeUpAt: sleep.wake_up_time };
  }

  /** Mines again and waits for the end: the killed transaction's nonce mined once, and completed with it. */
  async function mineAndExpectOnce(signer: Hex, fromBlock: bigint, killed: Awaited<ReturnType<typeof killWhileSleeping>>) {
    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });
    const final = await h.client.waitForTransaction(killed.transactionId, { timeoutMs: 60_000 });
    const mined = await h.tools.minedTransactionsOf(signer, fromBlock);
    expect(mined.map((tx) => tx.nonce)).toEqual([killed.sent.nonce]);
    expect(final).toMatchObject({ phase: "completed", txHash: mined[0]!.hash });
    return final;
  }

  it("refuses recover-stuck-workflow with Retry-After while the killed run's sleep is due, changing nothing", async () => {
    const killed = await killWhileSleeping(h.senders[0]!.address);

    const answer = await dapi.call("POST", RECOVER, { serviceName: WORKFLOW, serviceKey: killed.transactionId });

    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ code: "RESTATE_WORKFLOW_TIMERS_PENDING", data: { invocationIds: [killed.killedId] } });
    const retryAt = Date.parse((answer.body.data as { retryAt: string }).retryAt);
    expect(retryAt).toBeGreaterThan(killed.wakeUpAt);
    const retryAfter = Number(answer.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(Date.now() + retryAfter * 1_000).toBeGreaterThanOrEqual(retryAt);
    // The killed run and its journal stay, so the next attempt still sees the sleep.
    expect(await restate.invocationsOf(WORKFLOW, killed.transactionId, "run")).toEqual([expect.objectContaining({ id: killed.killedId, status: "completed" })]);
    expect((await sleepsOf(killed.killedId)).map((sleep) => sleep.wake_up_time)).toContain(killed.wakeUpAt);
    expect(await dapi.auditRowsOf(answer.requestId)).toMatchObject([{ outcome: "failure", errorCode: "RESTATE_WORKFLOW_TIMERS_PENDING" }]);
  });

  it("runs a key recovered the way the operator does it to completion on the bytes already signed, once", async () => {
    const signer = h.senders[1]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    const killed = await killWhileSleeping(signer);

    // The operator asks until the route agrees, waiting as its answers say.
    const recovered = await untilTimersQuiet(() => dapi.call("POST", RECOVER, { serviceName: WORKFLOW, serviceKey: killed.transactionId }), { timeoutMs: STUCK_AFTER_MS + 30_000 });
    expect(recovered.status).toBe(200);
    // The new run starts slowly (its database is away for a while), so a timer of the killed run
    // that was still due would reach it before that sleep's place in its journal.
    database.setDown(true);
    await h.submit(signer, signer, { transactionId: killed.transactionId, value: "1" });
    const second = await restate.activeRun(WORKFLOW, killed.transactionId);
    expect(second.id).toBe(killed.killedId);
    await waitFor("the killed run's sleep to come due", async () => Date.now() > killed.wakeUpAt + 2_000, { timeoutMs: STUCK_AFTER_MS + 10_000, intervalMs: 250 });
    database.setDown(false);
    await waitFor("the new run to load its transaction", async () => (await journalOf(second.id)).some((row) => row.entry_type === "Notification: Run") || undefined);

    const final = await mineAndExpectOnce(signer, fromBlock, killed);
    expect(final.nonce).toBe(killed.sent.nonce);
    // No completion of the killed run's sleep reached the new run: every sleep completion in its
    // journal belongs to a sleep of its own.
    const journal = await journalOf(second.id);
    const ownSleeps = new Set(journal.filter((row) => row.entry_type === "Command: Sleep").map((row) => completionIdOf(row)));
    expect(journal.filter((row) => row.entry_type === "Notification: Sleep").filter((row) => !ownSleeps.has(completionIdOf(row)))).toEqual([]);
  });

  it("keeps a dead letter open with Retry-After while the killed run's sleep is due, then replays it once", async () => {
    const signer = h.senders[3]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    const killed = await killWhileSleeping(signer);
    const letterId = `dl_${killed.transactionId}`;
    await insertDeadLetter(h.db, { id: letterId, kind: "transaction", referenceId: killed.transactionId, causeCode: "RETRY_BUDGET_EXHAUSTED", causeMessage: "test", payload: {} });
    const replay = () => dapi.call("POST", `/api/v2/admin/operator/dead-letters/${letterId}/replay`, {});

    const refused = await replay();

    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: "RESTATE_WORKFLOW_TIMERS_PENDING", data: { invocationIds: [killed.killedId] } });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await getDeadLetter(h.db, letterId)).toMatchObject({ status: "open" });
    expect(await restate.invocationsOf(WORKFLOW, killed.transactionId, "run")).toEqual([expect.objectContaining({ id: killed.killedId, status: "completed" })]);

    expect((await untilTimersQuiet(replay, { timeoutMs: STUCK_AFTER_MS + 30_000 })).status).toBe(200);
    expect(await getDeadLetter(h.db, letterId)).toMatchObject({ status: "replayed" });
    await mineAndExpectOnce(signer, fromBlock, killed);
  });

  it("defers the reconciler's re-drive of a killed run while its sleep is due, then re-drives it once", async () => {
    const signer = h.senders[2]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    const killed = await killWhileSleeping(signer);
    await waitFor("the record to be older than the stale threshold", async () => {
      const record = await getTransaction(h.db, killed.transactionId);
      return (record?.phase === "confirming" && Date.now() - record.phaseChangedAt.getTime() > 1_000) || undefined;
    });

    await reconciler().runOnce();

    expect(await restate.invocationsOf(WORKFLOW, killed.transactionId, "run")).toEqual([expect.objectContaining({ id: killed.killedId, status: "completed" })]);
    expect((await latestReconciliationReports(h.db, h.stack.chainId, 1))[0]?.findings ?? []).not.toContainEqual(
      expect.objectContaining({ kind: "workflow-redriven", reference: killed.transactionId }),
    );

    await waitFor(
      "a reconciler round to re-drive the key",
      async () => {
        await reconciler().runOnce();
        return (await restate.invocationsOf(WORKFLOW, killed.transactionId, "run")).some((row) => row.status !== "completed") || undefined;
      },
      { timeoutMs: STUCK_AFTER_MS + 30_000, intervalMs: 1_000 },
    );
    expect(Date.now()).toBeGreaterThan(killed.wakeUpAt);
    await mineAndExpectOnce(signer, fromBlock, killed);
  });
});
