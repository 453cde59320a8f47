import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../shared/db/client.ts";
import { readFileSync } from "node:fs";
import { MIGRATIONS_FOLDER, migrateDatabase } from "../../shared/db/migrate.ts";
import {
  countActiveApiKeys,
  countCanarySteps,
  createApiKey,
  createWebhookSubscription,
  decodeAuditCursor,
  encodeAuditCursor,
  finishAuditEntry,
  findApiKeyByPlaintext,
  getDeadLetter,
  getTransaction,
  insertApiKeyWithPlaintext,
  insertAuditEntry,
  insertDeadLetter,
  insertTransaction,
  insertWebhookDelivery,
  listAuditEntries,
  listDeadLetters,
  listEnabledSubscriptionsForEvent,
  listTransactionsInPhases,
  listTransactionTransitions,
  listWebhookDeliveryAttempts,
  markDeadLetterReplayed,
  recordCanaryStep,
  recordTransactionPhase,
  recordWebhookDeliveryAttempt,
  revokeApiKey,
} from "../../shared/db/repositories/index.ts";
import { databaseTargets } from "./database-targets.ts";

const unique = (prefix: string) => `${prefix}_${crypto.randomUUID()}`;

const newTransaction = (id = unique("tx")) => ({
  id,
  organizationId: "org-1",
  chainId: 31337,
  signerAddress: "0x00000000000000000000000000000000000000aa",
  target: "0x00000000000000000000000000000000000000bb",
  data: "0x",
  value: "5",
  gas: null,
  executor: { route: "eoa" },
  idempotencyKey: id,
  correlationId: null,
});

describe.each(databaseTargets(process.env))("repositories on $name", (target) => {
  let db: Database;
  let raw: Awaited<ReturnType<typeof target.open>>;
  beforeAll(async () => {
    raw = await target.open();
    db = raw.handle.db;
  });
  afterAll(async () => {
    await raw.close();
  });

  describe("migrations", () => {
    it("create every table", async () => {
      const rows = await db.execute<{ table_name: string }>(
        sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
      );
      expect(rows.map((row) => row.table_name)).toEqual(
        expect.arrayContaining([
          "api_keys",
          "canary_steps",
          "dead_letters",
          "operations_audit_log",
          "recovery_invitations",
          "transaction_transitions",
          "transactions",
          "webhook_deliveries",
          "webhook_delivery_attempts",
          "webhook_subscriptions",
        ]),
      );
    });

    it("are a no-op when applied again", async () => {
      await migrateDatabase(raw.handle.sql);
      const journal = JSON.parse(readFileSync(`${MIGRATIONS_FOLDER}/meta/_journal.json`, "utf8")) as { entries: unknown[] };
      const [row] = await db.execute<{ count: number }>(sql`select count(*)::int as count from drizzle.__drizzle_migrations`);
      expect(row?.count).toBe(journal.entries.length);
    });
  });

  describe("transactions", () => {
    it("store an operation once and return the stored row to a second insert with the same id", async () => {
      const first = await insertTransaction(db, newTransaction("tx-same"));
      const second = await insertTransaction(db, { ...newTransaction("tx-same"), value: "999", idempotencyKey: "other-key" });
      expect(first.created).toBe(true);
      expect(second).toMatchObject({ created: false, transaction: { id: "tx-same", value: "5", phase: "submitting" } });
    });

    it("refuse a second operation with an idempotency key already used", async () => {
      const key = unique("key");
      await insertTransaction(db, { ...newTransaction(), idempotencyKey: key });
      await expect(insertTransaction(db, { ...newTransaction(), idempotencyKey: key })).rejects.toSatisfy((error: unknown) => {
        for (let current = error as { code?: string; cause?: unknown } | undefined; current; current = current.cause as typeof current) {
          if (current.code === "23505") return true;
        }
        return false;
      });
    });

    it("record a phase change in the status row and as a transition", async () => {
      const { transaction } = await insertTransaction(db, newTransaction());
      await recordTransactionPhase(db, { transactionId: transaction.id, sequence: 1, phase: "submitting" });
      await recordTransactionPhase(db, { transactionId: transaction.id, sequence: 2, phase: "confirming", txHash: "0xabc", nonce: 4 });
      expect(await getTransaction(db, transaction.id)).toMatchObject({ phase: "confirming", txHash: "0xabc", nonce: 4 });
      expect((await listTransactionTransitions(db, transaction.id)).map((t) => t.phase)).toEqual(["submitting", "confirming"]);
    });

    it("ignore a replayed phase change with a sequence already recorded", async () => {
      const { transaction } = await insertTransaction(db, newTransaction());
      await recordTransactionPhase(db, { transactionId: transaction.id, sequence: 1, phase: "confirming", txHash: "0x1", nonce: 1 });
      await recordTransactionPhase(db, { transactionId: transaction.id, sequence: 2, phase: "completed", txHash: "0x1", nonce: 1, blockNumber: 7 });
      const replay = await recordTransactionPhase(db, { transactionId: transaction.id, sequence: 1, phase: "confirming", txHash: "0x1", nonce: 1 });
      expect(replay.recorded).toBe(false);
      expect(await getTransaction(db, transaction.id)).toMatchObject({ phase: "completed", blockNumber: 7 });
      expect(await listTransactionTransitions(db, transaction.id)).toHaveLength(2);
    });

    it("list records left in a non-terminal phase longer than a threshold", async () => {
      const { transaction } = await insertTransaction(db, newTransaction());
      const longAgo = new Date(Date.now() - 3_600_000);
      await recordTransactionPhase(db, { transactionId: transaction.id, sequence: 1, phase: "confirming", at: longAgo });
      const stale = await listTransactionsInPhases(db, { phases: ["confirming"], olderThan: new Date(Date.now() - 60_000), limit: 100 });
      expect(stale.map((row) => row.id)).toContain(transaction.id);
      const none = await listTransactionsInPhases(db, { phases: ["confirming"], olderThan: new Date(longAgo.getTime() - 1), limit: 100 });
      expect(none.map((row) => row.id)).not.toContain(transaction.id);
    });
  });

  describe("audit log", () => {
    it("records an entry and its outcome", async () => {
      const entry = await insertAuditEntry(db, { requestId: "req-1", actorId: "alice", actorRole: "operator", route: "doctor", arguments: {} });
      await finishAuditEntry(db, entry.id, { outcome: "failure", errorCode: "RESTATE_ADMIN_UNREACHABLE", errorMessage: "down" });
      const { entries } = await listAuditEntries(db, { limit: 10, actorId: "alice" });
      expect(entries[0]).toMatchObject({ requestId: "req-1", outcome: "failure", errorCode: "RESTATE_ADMIN_UNREACHABLE" });
      expect(entries[0]?.finishedAt).toBeInstanceOf(Date);
    });

    it("pages newest first with a cursor and filters by route and outcome", async () => {
      const actorId = unique("actor");
      const base = Date.now();
      for (let i = 0; i < 5; i++) {
        const entry = await insertAuditEntry(db, {
          requestId: `r${i}`,
          actorId,
          actorRole: "operator",
          route: i % 2 ? "force-redeploy" : "doctor",
          arguments: { i },
          startedAt: new Date(base + i * 1000),
        });
        await finishAuditEntry(db, entry.id, { outcome: i === 4 ? "failure" : "success" });
      }
      const first = await listAuditEntries(db, { limit: 2, actorId });
      expect(first.entries.map((e) => e.requestId)).toEqual(["r4", "r3"]);
      const cursor = decodeAuditCursor(encodeAuditCursor(first.nextCursor!));
      const second = await listAuditEntries(db, { limit: 2, actorId, before: cursor });
      expect(second.entries.map((e) => e.requestId)).toEqual(["r2", "r1"]);
      const last = await listAuditEntries(db, { limit: 2, actorId, before: second.nextCursor! });
      expect(last).toMatchObject({ nextCursor: null });
      expect(last.entries.map((e) => e.requestId)).toEqual(["r0"]);
      expect((await listAuditEntries(db, { limit: 10, actorId, route: "doctor" })).entries).toHaveLength(3);
      expect((await listAuditEntries(db, { limit: 10, actorId, outcome: "failure" })).entries.map((e) => e.requestId)).toEqual(["r4"]);
    });

    it("rejects a malformed cursor", () => {
      expect(decodeAuditCursor("not-a-cursor")).toBeUndefined();
    });
  });

  describe("API keys", () => {
    it("are found by their clear value, which is stored nowhere", async () => {
      const created = await createApiKey(db, { actorId: "bob", role: "operator", permissions: ["system:operate"] });
      expect(await findApiKeyByPlaintext(db, created.key)).toMatchObject({ id: created.id, actorId: "bob", role: "operator" });
      const rows = await db.execute<Record<string, unknown>>(sql`select * from api_keys`);
      expect(JSON.stringify(rows)).not.toContain(created.key);
    });

    it("are not found when unknown or revoked", async () => {
      const created = await createApiKey(db, { actorId: "carol", role: "operator", permissions: ["system:operate"] });
      expect(await findApiKeyByPlaintext(db, `${created.key}x`)).toBeUndefined();
      expect(await revokeApiKey(db, created.id)).toBe(true);
      expect(await findApiKeyByPlaintext(db, created.key)).toBeUndefined();
    });

    it("store a configured key once however often it is inserted", async () => {
      const before = await countActiveApiKeys(db);
      const key = `bootstrap-${crypto.randomUUID()}`;
      const first = await insertApiKeyWithPlaintext(db, { key, actorId: "boot", role: "operator", permissions: [] });
      const second = await insertApiKeyWithPlaintext(db, { key, actorId: "boot", role: "operator", permissions: [] });
      expect(second).toEqual({ id: first.id, created: false });
      expect(await countActiveApiKeys(db)).toBe(before + 1);
    });
  });

  describe("webhooks", () => {
    it("deliver one event once per subscription and count each attempt once", async () => {
      const subscription = await createWebhookSubscription(db, {
        id: unique("sub"),
        url: "http://127.0.0.1:1/hook",
        eventTypes: ["transaction.completed"],
        secrets: [{ secret: "whsec_abc", createdAt: new Date().toISOString() }],
      });
      const delivery = { id: unique("dlv"), subscriptionId: subscription.id, eventId: "evt-1", eventType: "transaction.completed", payload: { a: 1 } };
      const first = await insertWebhookDelivery(db, delivery);
      const again = await insertWebhookDelivery(db, { ...delivery, id: unique("dlv") });
      expect(again).toMatchObject({ created: false, delivery: { id: first.delivery.id } });
      await recordWebhookDeliveryAttempt(db, { deliveryId: delivery.id, attempt: 1, statusCode: 503, latencyMs: 12, error: null });
      await recordWebhookDeliveryAttempt(db, { deliveryId: delivery.id, attempt: 1, statusCode: 503, latencyMs: 12, error: null });
      expect(await listWebhookDeliveryAttempts(db, delivery.id)).toHaveLength(1);
    });

    it("find enabled subscriptions by event type, including wildcards", async () => {
      const eventType = `custom.${crypto.randomUUID()}`;
      const exact = await createWebhookSubscription(db, { id: unique("sub"), url: "http://a", eventTypes: [eventType], secrets: [] });
      const wildcard = await createWebhookSubscription(db, { id: unique("sub"), url: "http://b", eventTypes: ["*"], secrets: [] });
      const disabled = await createWebhookSubscription(db, { id: unique("sub"), url: "http://c", eventTypes: [eventType], secrets: [], enabled: false });
      const found = (await listEnabledSubscriptionsForEvent(db, eventType)).map((s) => s.id);
      expect(found).toEqual(expect.arrayContaining([exact.id, wildcard.id]));
      expect(found).not.toContain(disabled.id);
    });
  });

  describe("dead letters", () => {
    it("are filed once per id, listed while open, and replayed once", async () => {
      const id = unique("dl");
      const letter = { id, kind: "transaction" as const, referenceId: "tx-9", causeCode: "RETRY_BUDGET_EXHAUSTED", causeMessage: "rpc down", payload: {} };
      await insertDeadLetter(db, letter);
      await insertDeadLetter(db, letter);
      expect((await listDeadLetters(db, { status: "open" })).filter((row) => row.id === id)).toHaveLength(1);
      expect(await markDeadLetterReplayed(db, id)).toBe(true);
      expect(await markDeadLetterReplayed(db, id)).toBe(false);
      expect(await getDeadLetter(db, id)).toMatchObject({ status: "replayed", replayCount: 1 });
    });

    it("reopen when the same work dead-letters again after a replay", async () => {
      const id = unique("dl");
      const letter = { id, kind: "transaction" as const, referenceId: "tx-10", causeCode: "A", causeMessage: "first", payload: {} };
      await insertDeadLetter(db, letter);
      await markDeadLetterReplayed(db, id);
      await insertDeadLetter(db, { ...letter, causeCode: "B", causeMessage: "second" });
      expect(await getDeadLetter(db, id)).toMatchObject({ status: "open", causeCode: "B", replayCount: 1 });
    });
  });

  describe("canary steps", () => {
    it("count every execution of every step", async () => {
      const runKey = unique("run");
      await recordCanaryStep(db, runKey, 1);
      await recordCanaryStep(db, runKey, 2);
      await recordCanaryStep(db, runKey, 2);
      expect(await countCanarySteps(db, runKey)).toEqual([
        { step: 1, executions: 1 },
        { step: 2, executions: 2 },
      ]);
    });
  });
});
