/**
 * Submitting through Restate ingress alone, as a caller in any language would: plain HTTP with a
 * JSON body to `TransactionExecutionWorkflow/<transactionId>/run/send`, no database of ours.
 */
import type { Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonSchemaOf } from "../../shared/restate/schema-serde.ts";
import { createRestateAdminClient } from "../../shared/restate/admin-client.ts";
import { INGRESS_HANDLERS } from "../../services/ingress-schemas.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";

const WORKFLOW = "TransactionExecutionWorkflow";

describe("submitting a transaction through Restate ingress", () => {
  let h: TransactionHarness;

  beforeAll(async () => {
    h = await startTransactionHarness({ senders: 2 });
  });
  afterAll(async () => {
    await h.stop();
  });

  const ingress = (path: string, init?: { method?: string; body?: unknown; headers?: Record<string, string> }) =>
    fetch(`${h.stack.restateIngressUrl}/${path}`, {
      method: init?.method ?? (init?.body === undefined ? "GET" : "POST"),
      headers: { "content-type": "application/json", ...init?.headers },
      ...(init?.body === undefined ? {} : { body: typeof init.body === "string" ? init.body : JSON.stringify(init.body) }),
    });
  const transfer = (signer: Hex, extra: Record<string, unknown> = {}) => ({
    organizationId: h.organizationId,
    chainId: h.stack.chainId,
    signerAddress: signer,
    target: signer,
    value: "7",
    executor: { route: "eoa" },
    ...extra,
  });
  /** The run's outcome as ingress tells it: status code and body. */
  const attach = async (transactionId: string) => {
    const response = await ingress(`restate/workflow/${WORKFLOW}/${transactionId}/attach`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it("runs an operation sent as plain JSON to run/send, and stores it in the run's first step", async () => {
    const transactionId = h.newTransactionId();
    const signer = h.senders[0]!.address;
    const sent = await ingress(`${WORKFLOW}/${transactionId}/run/send`, { body: transfer(signer, { correlationId: "order-17" }) });

    expect(sent.status).toBe(202);
    expect(await sent.json()).toMatchObject({ status: "Accepted", invocationId: expect.any(String) });
    const outcome = await attach(transactionId);
    expect(outcome).toMatchObject({ status: 200, body: { phase: "completed", transactionId, error: null } });
    const mined = await h.tools.client.getTransaction({ hash: outcome.body.txHash as Hex });
    expect(mined).toMatchObject({ from: signer.toLowerCase(), to: signer.toLowerCase(), value: 7n });
    const stored = await (await ingress(`${WORKFLOW}/${transactionId}/submission`, { body: "" })).json();
    expect(stored).toMatchObject({ stored: { transactionId, organizationId: h.organizationId, value: "7", correlationId: "order-17", idempotencyKey: transactionId } });
  });

  it("fails the run with a 400 that names the bad field, and stores nothing", async () => {
    const transactionId = h.newTransactionId();
    const sent = await ingress(`${WORKFLOW}/${transactionId}/run/send`, { body: transfer(h.senders[0]!.address, { chainId: "one", value: "-1" }) });
    expect(sent.status).toBe(202);

    const outcome = await attach(transactionId);
    expect(outcome.status).toBe(400);
    expect(outcome.body.message).toMatch(/\/chainId/);
    expect(outcome.body.message).toMatch(/\/value/);
    expect(await h.client.getTransactionStatus(transactionId, { source: "database" })).toBeNull();
  });

  it("refuses a body whose transactionId is not the workflow key", async () => {
    const transactionId = h.newTransactionId();
    await ingress(`${WORKFLOW}/${transactionId}/run/send`, { body: transfer(h.senders[0]!.address, { transactionId: "tx_someone_else" }) });

    const outcome = await attach(transactionId);
    expect(outcome.status).toBe(400);
    expect(outcome.body.message).toMatch(/transactionId/);
    expect(await h.client.getTransactionStatus(transactionId, { source: "database" })).toBeNull();
  });

  it("answers PreviouslyAccepted to the same id sent again, keeps the first operation, and runs it once", async () => {
    const transactionId = h.newTransactionId();
    const signer = h.senders[1]!.address;
    const fromBlock = await h.tools.client.getBlockNumber();
    await ingress(`${WORKFLOW}/${transactionId}/run/send`, { body: transfer(signer) });
    const again = await ingress(`${WORKFLOW}/${transactionId}/run/send`, { body: transfer(signer, { value: "8" }) });

    expect(await again.json()).toMatchObject({ status: "PreviouslyAccepted" });
    expect((await attach(transactionId)).body).toMatchObject({ phase: "completed" });
    expect((await h.tools.minedTransactionsOf(signer, fromBlock + 1n)).length).toBe(1);
    // The typed client compares with what the run stored, and refuses the different value.
    await expect(h.client.submitTransaction({ transactionId, ...transfer(signer, { value: "8" }), executor: { route: "eoa" } })).rejects.toMatchObject({
      code: "TRANSACTION_ID_REUSED",
    });
    const same = await h.client.submitTransaction({ transactionId, ...transfer(signer), executor: { route: "eoa" } });
    expect(same).toMatchObject({ attached: true, stored: true });
  });

  it("takes Restate's idempotency-key header on cancel, and refuses it on run, whose key already is one", async () => {
    const transactionId = h.newTransactionId();
    const signer = h.senders[0]!.address;
    const withKey = { "idempotency-key": `cancel-${transactionId}` };
    const refused = await ingress(`${WORKFLOW}/${transactionId}/run/send`, { body: transfer(signer), headers: withKey });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/idempotency key/);

    await ingress(`${WORKFLOW}/${transactionId}/run/send`, { body: transfer(signer) });
    const cancels = [];
    for (let i = 0; i < 2; i++) cancels.push((await (await ingress(`${WORKFLOW}/${transactionId}/cancel/send`, { body: { reason: "twice" }, headers: withKey })).json()) as { invocationId: string; status: string });
    expect(cancels.map((cancel) => cancel.status)).toEqual(["Accepted", "PreviouslyAccepted"]);
    expect(cancels[1]!.invocationId).toBe(cancels[0]!.invocationId);
    // One cancel request reached the run: it ended cancelled, or completed first.
    const final = await h.client.waitForTransaction(transactionId, { timeoutMs: 60_000 });
    expect(final.phase === "completed" || final.error?.code === "CANCELLED").toBe(true);
  });

  it("keeps the nonce handlers of TransactionProcessor away from ingress", async () => {
    const release = await ingress("TransactionProcessor/any-key/release", { body: { transactionId: "tx_x" } });
    expect(release.status).toBeGreaterThanOrEqual(400);
    expect(release.status).toBeLessThan(500);
    const submit = await ingress("TransactionProcessor/any-key/submit", { body: {} });
    expect(submit.status).toBeGreaterThanOrEqual(400);
    expect(submit.status).toBeLessThan(500);
  });

  it("publishes with each service the JSON Schemas of its ingress handlers' inputs and outputs, as docs/ingress-schemas.json has them", async () => {
    const admin = createRestateAdminClient({ baseUrl: h.stack.restateAdminUrl });
    for (const entry of INGRESS_HANDLERS) {
      const service = (await admin.getService(entry.service)) as unknown as { handlers: { name: string; input_json_schema?: unknown; output_json_schema?: unknown }[] };
      const handler = service.handlers.find((candidate) => candidate.name === entry.handler);
      expect(handler, `${entry.service}/${entry.handler}`).toBeDefined();
      if (entry.input) expect(handler?.input_json_schema, `${entry.service}/${entry.handler} input`).toEqual(jsonSchemaOf(entry.input, "input"));
      expect(handler?.output_json_schema, `${entry.service}/${entry.handler} output`).toEqual(jsonSchemaOf(entry.output, "output"));
    }
  });
});
