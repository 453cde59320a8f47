import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { getDeadLetter, insertDeadLetter, markDeadLetterReplayed } from "../../shared/db/repositories/dead-letters.ts";
import { transactionExecutionWorkflow } from "../../services/workflows/transaction-execution/api.ts";
import { createInvocationTools } from "../helpers/restate-invocations.ts";
import { startRpcProxy, type RpcProxy } from "../helpers/rpc-proxy.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";
import { startDapiHarness, type DapiHarness } from "../helpers/dapi-harness.ts";

const DEAD_LETTERS = "/api/v2/admin/operator/dead-letters";

describe("dead letters through the DAPI", () => {
  let proxy: RpcProxy;
  let h: TransactionHarness;
  let dapi: DapiHarness;
  beforeAll(async () => {
    proxy = await startRpcProxy(inject("stack").chainRpcUrl);
    h = await startTransactionHarness({ senders: 1, name: "dapi-dead-letter-worker", env: { CHAIN_RPC_URL: proxy.url, TX_PREBROADCAST_RETRY_BUDGET_MS: "2000" } });
    dapi = await startDapiHarness();
  });
  afterAll(async () => {
    await dapi.close();
    await h.stop();
    await proxy.close();
  });

  it("replays a dead-lettered transaction: the workflow key is recovered, the transaction completes, the letter is marked replayed", async () => {
    proxy.setMode("down");
    const transactionId = h.newTransactionId();
    await h.client.submitTransaction({
      transactionId,
      organizationId: h.organizationId,
      chainId: h.stack.chainId,
      signerAddress: h.senders[0]!.address,
      target: h.senders[0]!.address,
      value: "1",
      executor: { route: "eoa" },
    });
    expect(await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 })).toMatchObject({ phase: "dead-letter" });
    // The status shows the phase as the run records it; the run ends a moment later.
    await waitFor("the dead-lettered run to end", async () =>
      (await createInvocationTools(h.stack).invocationsOf(transactionExecutionWorkflow.name, transactionId, "run")).every((row) => row.status === "completed"),
    );
    proxy.setMode("up");
    const listed = await dapi.call<{ items: { id: string; referenceId: string; status: string }[] }>("GET", `${DEAD_LETTERS}?kind=transaction&status=open`);
    const letter = listed.body.items.find((item) => item.referenceId === transactionId);
    expect(letter).toMatchObject({ status: "open" });

    const answer = await dapi.call("POST", `${DEAD_LETTERS}/${letter!.id}/replay`, {});

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ acknowledged: true, deadLetterId: letter!.id, invocationId: expect.stringMatching(/^inv_/) as unknown });
    expect(await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 })).toMatchObject({ phase: "completed" });
    expect(await getDeadLetter(h.db, letter!.id)).toMatchObject({ status: "replayed", replayCount: 1 });
    expect(await dapi.auditRowsOf(answer.requestId)).toMatchObject([{ outcome: "success", arguments: { id: letter!.id } }]);
  });

  it("refuses to replay a letter that was already replayed with DEAD_LETTER_NOT_OPEN", async () => {
    const id = `dl_test_${crypto.randomUUID()}`;
    await insertDeadLetter(h.db, { id, kind: "transaction", referenceId: `tx_${crypto.randomUUID()}`, causeCode: "X", causeMessage: "x", payload: {} });
    await markDeadLetterReplayed(h.db, id);

    const answer = await dapi.call("POST", `${DEAD_LETTERS}/${id}/replay`, {});

    expect(answer).toMatchObject({ status: 409, body: { code: "DEAD_LETTER_NOT_OPEN", data: { status: "replayed" } } });
  });

  it("refuses a kind that has no replay with DEAD_LETTER_KIND_UNSUPPORTED and leaves the letter open", async () => {
    const id = `dl_test_${crypto.randomUUID()}`;
    await insertDeadLetter(h.db, { id, kind: "identity-recovery", referenceId: "invitation_01TEST", causeCode: "X", causeMessage: "x", payload: {} });

    const answer = await dapi.call("POST", `${DEAD_LETTERS}/${id}/replay`, {});

    expect(answer).toMatchObject({ status: 422, body: { code: "DEAD_LETTER_KIND_UNSUPPORTED" } });
    expect(await getDeadLetter(h.db, id)).toMatchObject({ status: "open" });
  });

  it("answers DEAD_LETTER_NOT_FOUND for an unknown id", async () => {
    const answer = await dapi.call("POST", `${DEAD_LETTERS}/dl_missing_${crypto.randomUUID()}/replay`, {});
    expect(answer).toMatchObject({ status: 404, body: { code: "DEAD_LETTER_NOT_FOUND" } });
  });
});
