import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../shared/db/client.ts";
import { insertTransaction, listApprovalDecisions, recordApprovalDecision } from "../../shared/db/repositories/index.ts";
import { listApprovalSignatures } from "../../shared/db/repositories/transaction-approvals.ts";
import { databaseTargets, type OpenedTarget } from "./database-targets.ts";

const unique = (prefix: string) => `${prefix}_${crypto.randomUUID()}`;
const approverA = "0x00000000000000000000000000000000000000a1";
const approverB = "0x00000000000000000000000000000000000000b2";
const signature = `0x${"ab".repeat(65)}`;

describe.each(databaseTargets(process.env))("approval decisions on $name", (target) => {
  let db: Database;
  let opened: OpenedTarget;
  beforeAll(async () => {
    opened = await target.open();
    db = opened.handle.db;
  });
  afterAll(async () => {
    await opened.close();
  });

  const signOnlyTransaction = async () => {
    const id = unique("tx");
    await insertTransaction(db, {
      id,
      organizationId: "org-1",
      chainId: 31337,
      signerAddress: "0x00000000000000000000000000000000000000aa",
      target: "0x00000000000000000000000000000000000000bb",
      data: "0x",
      value: "0",
      gas: null,
      executor: { route: "sign-only", provider: "hsm" },
      idempotencyKey: id,
      correlationId: null,
    });
    return id;
  };

  it("lists the signatures of the approvals only, oldest first (what a smart-wallet operation packs)", async () => {
    const id = await signOnlyTransaction();
    const signatureB = `0x${"cd".repeat(65)}`;
    await recordApprovalDecision(db, { transactionId: id, approver: approverB, decision: "approve", signature: signatureB, requestId: "r1", decidedAt: new Date("2026-01-01T00:00:01Z") });
    await recordApprovalDecision(db, { transactionId: id, approver: approverA, decision: "reject", signature, requestId: "r2", decidedAt: new Date("2026-01-01T00:00:02Z") });
    expect(await listApprovalSignatures(db, id)).toEqual([{ approver: approverB, signature: signatureB }]);
  });

  it("stores decisions and lists them oldest first", async () => {
    const transactionId = await signOnlyTransaction();
    const first = await recordApprovalDecision(db, { transactionId, approver: approverA, decision: "approve", signature, requestId: "req-1", decidedAt: new Date("2026-01-01T00:00:00Z") });
    await recordApprovalDecision(db, { transactionId, approver: approverB, decision: "reject", signature, requestId: "req-2", decidedAt: new Date("2026-01-01T00:00:01Z") });
    expect(first).toEqual({ approver: approverA, decision: "approve", decidedAt: new Date("2026-01-01T00:00:00Z") });
    expect(await listApprovalDecisions(db, transactionId)).toEqual([
      { approver: approverA, decision: "approve", decidedAt: new Date("2026-01-01T00:00:00Z") },
      { approver: approverB, decision: "reject", decidedAt: new Date("2026-01-01T00:00:01Z") },
    ]);
  });

  it("keeps the first decision of an approver and answers null for a second one", async () => {
    const transactionId = await signOnlyTransaction();
    await recordApprovalDecision(db, { transactionId, approver: approverA, decision: "approve", signature, requestId: "req-1" });
    expect(await recordApprovalDecision(db, { transactionId, approver: approverA.toUpperCase().replace("0X", "0x"), decision: "reject", signature, requestId: "req-2" })).toBeNull();
    expect((await listApprovalDecisions(db, transactionId)).map((row) => row.decision)).toEqual(["approve"]);
  });

  it("answers a retry of the request that stored a decision with that decision", async () => {
    const transactionId = await signOnlyTransaction();
    const first = await recordApprovalDecision(db, { transactionId, approver: approverA, decision: "approve", signature, requestId: "req-1" });
    expect(await recordApprovalDecision(db, { transactionId, approver: approverA, decision: "approve", signature, requestId: "req-1" })).toEqual(first);
    expect(await listApprovalDecisions(db, transactionId)).toHaveLength(1);
  });

  it("keeps decisions of one transaction apart from another's", async () => {
    const one = await signOnlyTransaction();
    const other = await signOnlyTransaction();
    await recordApprovalDecision(db, { transactionId: one, approver: approverA, decision: "approve", signature, requestId: "req-1" });
    expect(await recordApprovalDecision(db, { transactionId: other, approver: approverA, decision: "approve", signature, requestId: "req-2" })).not.toBeNull();
    expect(await listApprovalDecisions(db, other)).toHaveLength(1);
  });

  it("refuses a decision on a transaction that is not stored", async () => {
    await expect(recordApprovalDecision(db, { transactionId: unique("tx_missing"), approver: approverA, decision: "approve", signature, requestId: "req-1" })).rejects.toThrow();
  });
});
