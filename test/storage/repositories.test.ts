import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../shared/db/client.ts";
import { MIGRATIONS_FOLDER, migrateDatabase } from "../../shared/db/migrate.ts";
import {
  countActiveApiKeys,
  countCanarySteps,
  createApiKey,
  createWebhookSubscription,
  decodeAuditCursor,
  deleteWebhookSubscription,
  discardDeadLetter,
  encodeAuditCursor,
  finishAuditEntry,
  findApiKeyByPlaintext,
  getDeadLetter,
  getTransaction,
  getWebhookDelivery,
  getWebhookSubscription,
  hashApiKey,
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
  listWebhookSubscriptions,
  markDeadLetterReplayed,
  recordCanaryStep,
  recordTransactionPhase,
  recordTransactionSignature,
  listTransactionSignatures,
  repairTransactionRecord,
  recordTransactionEvents,
  recordSignatureUnlessCancelled,
  requestTransactionCancellation,
  markTransactionSignatureRefused,
  recordWebhookDeliveryAttempt,
  revokeApiKey,
  setWebhookDeliveryStatus,
  touchApiKey,
  updateWebhookSubscription,
} from "../../shared/db/repositories/index.ts";
import { loadTransaction } from "../../services/workflows/transaction-execution/steps.ts";
import { databaseTargets, type OpenedTarget } from "./database-targets.ts";

const unique = (prefix: string) => `${prefix}_${crypto.randomUUID()}`;

/** The SQLSTATE of a driver error, looked up through drizzle's wrapping `cause` chain. */
function sqlStateOf(error: unknown): string | undefined {
  for (let current = error as { code?: unknown; cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    if (typeof current.code === "string" && /^[0-9A-Z]{5}$/.test(current.code)) return current.code;
  }
  return undefined;
}

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
  let opened: OpenedTarget;
  beforeAll(async () => {
    opened = await target.open();
    db = opened.handle.db;
  });
  afterAll(async () => {
    await opened.close();
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
          "exchange_rates",
          "operations_audit_log",
          "reconciliation_reports",
          "recovery_invitations",
          "transaction_transitions",
          "transactions",
          "webhook_deliveries",
          "webhook_delivery_attempts",
          "webhook_subscriptions",
        ]),
      );
    });

    it("create the indexes the queries rely on", async () => {
      const rows = await db.execute<{ indexname: string }>(sql`select indexname from pg_indexes where schemaname = 'public'`);
      expect(rows.map((row) => row.indexname)).toEqual(
        expect.arrayContaining([
          "transactions_organization_idempotency_key_unique",
          "transactions_phase_updated_at_idx",
          "transactions_sender_idx",
          "transaction_transitions_sequence_unique",
          "transaction_transitions_key_unique",
          "transaction_signatures_hash_unique",
          "nonce_fills_sender_nonce_unique",
          "operations_audit_log_started_at_idx",
          "operations_audit_log_route_idx",
          "api_keys_key_hash_unique",
          "webhook_deliveries_event_unique",
          "webhook_delivery_attempts_unique",
          "dead_letters_reference_idx",
          "dead_letters_status_idx",
          "canary_steps_run_key_idx",
        ]),
      );
    });

    it("are a no-op when applied again", async () => {
      await migrateDatabase(opened.handle.sql);
      const journal = JSON.parse(readFileSync(`${MIGRATIONS_FOLDER}/meta/_journal.json`, "utf8")) as { entries: unknown[] };
      const [row] = await db.execute<{ count: number }>(sql`select count(*)::int as count from drizzle.__drizzle_migrations`);
      expect(row?.count).toBe(journal.entries.length);
    });
  });

  describe("transactions", () => {
    it("store an operation once and return the stored row to a second insert with the same id", async () => {
      const id = unique("tx-same");
      const first = await insertTransaction(db, newTransaction(id));
      const second = await insertTransaction(db, { ...newTransaction(id), value: "999", idempotencyKey: unique("other-key") });
      expect(first.created).toBe(true);
      expect(second).toMatchObject({ created: false, transaction: { id, value: "5", idempotencyKey: id, phase: "submitting" } });
    });

    it("refuse a second operation with an idempotency key already used", async () => {
      const key = unique("key");
      await insertTransaction(db, { ...newTransaction(), idempotencyKey: key });
      await expect(insertTransaction(db, { ...newTransaction(), idempotencyKey: key })).rejects.toSatisfy((error) => sqlStateOf(error) === "23505");
    });

    it("scope idempotency keys per organization", async () => {
      const key = unique("shared-key");
      const first = await insertTransaction(db, { ...newTransaction(), organizationId: unique("org-a"), idempotencyKey: key });
      const second = await insertTransaction(db, { ...newTransaction(), organizationId: unique("org-b"), idempotencyKey: key });
      expect([first.created, second.created]).toEqual([true, true]);
      await expect(insertTransaction(db, { ...newTransaction(), organizationId: second.transaction.organizationId, idempotencyKey: key })).rejects.toSatisfy(
        (error) => sqlStateOf(error) === "23505",
      );
    });

    it("keep every signature of a transaction, in the order signed, beyond the end of its run", async () => {
      const { transaction } = await insertTransaction(db, newTransaction());
      const signed = (hash: string, kind: "original" | "replacement" | "cancellation") => ({
        transactionId: transaction.id,
        nonce: 4,
        hash,
        raw: `0x02${hash.slice(2)}`,
        maxFeePerGas: "100",
        maxPriorityFeePerGas: "1",
        kind,
      });
      await recordTransactionSignature(db, signed("0xaa", "original"));
      await recordTransactionSignature(db, signed("0xbb", "replacement"));
      await recordTransactionSignature(db, signed("0xbb", "replacement"));
      await recordTransactionSignature(db, signed("0xcc", "cancellation"));
      expect((await listTransactionSignatures(db, transaction.id)).map((row) => [row.hash, row.kind])).toEqual([
        ["0xaa", "original"],
        ["0xbb", "replacement"],
        ["0xcc", "cancellation"],
      ]);
    });

    it("record phase changes and their webhook deliveries in one statement, once per key", async () => {
      const { transaction } = await insertTransaction(db, newTransaction());
      const subscription = await createWebhookSubscription(db, { id: unique("sub"), url: "https://example.com/hook", eventTypes: ["transaction.completed"], secrets: [] });
      const change = (key: string, phase: "confirming" | "completed") => ({
        key,
        phase,
        txHash: "0x1",
        nonce: 7,
        errorCode: null,
        errorMessage: null,
        blockNumber: phase === "completed" ? 12 : null,
        blockHash: phase === "completed" ? "0xb" : null,
        reason: null,
        data: { transactionId: transaction.id, phase },
      });
      const changes = [change("run-1/2", "confirming"), change("run-1/3", "completed")];
      const first = await recordTransactionEvents(db, { transactionId: transaction.id, changes });
      const again = await recordTransactionEvents(db, { transactionId: transaction.id, changes });

      expect(first.transitions.map((t) => [t.sequence, t.recorded])).toEqual([[1, true], [2, true]]);
      expect(again.transitions.map((t) => [t.sequence, t.recorded])).toEqual([[1, false], [2, false]]);
      expect(first.deliveryIds).toEqual([`whd_evt_${transaction.id}_2_${subscription.id}`]);
      expect(again.deliveryIds).toEqual(first.deliveryIds);
      expect(await getWebhookDelivery(db, first.deliveryIds[0]!)).toMatchObject({ eventId: `evt_${transaction.id}_2`, eventType: "transaction.completed" });
      expect(await getTransaction(db, transaction.id)).toMatchObject({ phase: "completed", blockNumber: 12, blockHash: "0xb", nonce: 7 });
      await deleteWebhookSubscription(db, subscription.id);
    });

    it("record a first signature only while no cancellation was asked for", async () => {
      const signature = (transactionId: string, hash: string) => ({ transactionId, nonce: 1, hash, raw: "0x02", maxFeePerGas: "2", maxPriorityFeePerGas: "1", kind: "original" as const });
      const { transaction } = await insertTransaction(db, newTransaction());
      expect(await recordSignatureUnlessCancelled(db, signature(transaction.id, unique("0xa")))).toBe(true);
      const { transaction: cancelled } = await insertTransaction(db, newTransaction());
      await requestTransactionCancellation(db, { transactionId: cancelled.id, reason: "test" });
      expect(await recordSignatureUnlessCancelled(db, signature(cancelled.id, unique("0xb")))).toBe(false);
      expect(await listTransactionSignatures(db, cancelled.id)).toEqual([]);
      await expect(recordSignatureUnlessCancelled(db, signature(unique("ghost"), unique("0xc")))).rejects.toThrow(/not stored/);
    });

    it("load a transaction with its live signatures and latest phase change in one query", async () => {
      const { transaction } = await insertTransaction(db, newTransaction());
      await recordTransactionPhase(db, { transactionId: transaction.id, key: "run-1/1", phase: "submitting" });
      await recordTransactionSignature(db, { transactionId: transaction.id, nonce: 3, hash: unique("0xd"), raw: "0x02aa", maxFeePerGas: "9", maxPriorityFeePerGas: "1", kind: "original" });
      const refused = unique("0xe");
      await recordTransactionSignature(db, { transactionId: transaction.id, nonce: 3, hash: refused, raw: "0x02bb", maxFeePerGas: "10", maxPriorityFeePerGas: "2", kind: "replacement" });
      await markTransactionSignatureRefused(db, refused);
      const loaded = await loadTransaction(db, transaction.id);
      expect(loaded?.record).toMatchObject({ phase: "submitting", lastTransitionPhase: "submitting", cancelRequested: false });
      expect(loaded?.signatures).toEqual([expect.objectContaining({ nonce: 3, raw: "0x02aa", kind: "original" })]);
      expect(await loadTransaction(db, unique("missing"))).toBeNull();
    });

    it("repair a record only while it still shows what the reconciler saw", async () => {
      const { transaction } = await insertTransaction(db, newTransaction());
      await recordTransactionPhase(db, { transactionId: transaction.id, key: "run-1/1", phase: "confirming", txHash: "0x1", nonce: 1 });
      const seen = (await getTransaction(db, transaction.id))!;
      // The workflow moves on after the reconciler looked.
      await recordTransactionPhase(db, { transactionId: transaction.id, key: "run-1/2", phase: "completed", txHash: "0x1", nonce: 1, blockNumber: 3 });
      const stale = { phase: "blocked" as const, txHash: "0x1", nonce: 1, errorCode: null, errorMessage: null, blockNumber: null };
      expect(await repairTransactionRecord(db, transaction.id, stale, { phase: seen.phase, phaseChangedAt: seen.phaseChangedAt })).toBe(false);
      expect(await getTransaction(db, transaction.id)).toMatchObject({ phase: "completed", blockNumber: 3 });
    });

    it("return nothing for an id never stored", async () => {
      expect(await getTransaction(db, unique("missing"))).toBeUndefined();
    });

    it("store a contract deployment with the column defaults and its gas policy", async () => {
      const id = unique("deploy");
      const gas = { gasLimit: "21000", maxFeePerGas: "30000000000", maxPriorityFeePerGas: "1000000000" };
      const { transaction } = await insertTransaction(db, {
        id,
        organizationId: "org-1",
        chainId: 1,
        signerAddress: "0x00000000000000000000000000000000000000aa",
        target: null,
        executor: { route: "eoa" },
        idempotencyKey: id,
        gas,
      });
      expect(transaction).toMatchObject({ target: null, data: "0x", value: "0", phase: "submitting", gas, executor: { route: "eoa" }, txHash: null, blockNumber: null });
      expect(transaction.createdAt).toBeInstanceOf(Date);
    });

    it("record a phase change in the status row and as a transition", async () => {
      const { transaction } = await insertTransaction(db, newTransaction());
      await recordTransactionPhase(db, { transactionId: transaction.id, key: "run-1/1", phase: "submitting" });
      await recordTransactionPhase(db, { transactionId: transaction.id, key: "run-1/2", phase: "confirming", txHash: "0xabc", nonce: 4 });
      expect(await getTransaction(db, transaction.id)).toMatchObject({ phase: "confirming", txHash: "0xabc", nonce: 4 });
      expect((await listTransactionTransitions(db, transaction.id)).map((t) => t.phase)).toEqual(["submitting", "confirming"]);
    });

    it("ignore a replayed phase change with a key already recorded, answering its sequence", async () => {
      const { transaction } = await insertTransaction(db, newTransaction());
      await recordTransactionPhase(db, { transactionId: transaction.id, key: "run-1/1", phase: "confirming", txHash: "0x1", nonce: 1 });
      await recordTransactionPhase(db, { transactionId: transaction.id, key: "run-1/2", phase: "completed", txHash: "0x1", nonce: 1, blockNumber: 7 });
      const before = await getTransaction(db, transaction.id);
      const replay = await recordTransactionPhase(db, { transactionId: transaction.id, key: "run-1/1", phase: "confirming", txHash: "0x1", nonce: 1 });
      expect(replay).toEqual({ recorded: false, sequence: 1 });
      expect(await getTransaction(db, transaction.id)).toEqual(before);
      expect(before).toMatchObject({ phase: "completed", blockNumber: 7 });
      expect(await listTransactionTransitions(db, transaction.id)).toHaveLength(2);
    });

    it("number the changes of a later run after the earlier run's, never reusing a sequence", async () => {
      const { transaction } = await insertTransaction(db, newTransaction());
      await recordTransactionPhase(db, { transactionId: transaction.id, key: "run-1/1", phase: "submitting" });
      await recordTransactionPhase(db, { transactionId: transaction.id, key: "run-1/2", phase: "confirming", txHash: "0x1", nonce: 2 });
      const later = await recordTransactionPhase(db, { transactionId: transaction.id, key: "run-2/1", phase: "completed", txHash: "0x1", nonce: 2 });
      expect(later).toEqual({ recorded: true, sequence: 3 });
      expect((await listTransactionTransitions(db, transaction.id)).map((t) => [t.sequence, t.phase])).toEqual([
        [1, "submitting"],
        [2, "confirming"],
        [3, "completed"],
      ]);
    });

    it("record the same sequence once when a step is retried", async () => {
      const { transaction } = await insertTransaction(db, newTransaction());
      const change = { transactionId: transaction.id, key: "run-1/1", phase: "confirming" as const, txHash: "0x2", nonce: 3, at: new Date("2030-05-05T00:00:00.000Z") };
      expect(await recordTransactionPhase(db, change)).toEqual({ recorded: true, sequence: 1 });
      expect(await recordTransactionPhase(db, change)).toEqual({ recorded: false, sequence: 1 });
      expect(await listTransactionTransitions(db, transaction.id)).toHaveLength(1);
      expect(await getTransaction(db, transaction.id)).toMatchObject({ phase: "confirming", phaseChangedAt: change.at, updatedAt: change.at });
    });

    it("store the whole status of each change, clearing fields the change leaves out", async () => {
      const { transaction } = await insertTransaction(db, newTransaction());
      await recordTransactionPhase(db, { transactionId: transaction.id, key: "run-1/1", phase: "completed", txHash: "0x1", nonce: 1, blockNumber: 9 });
      await recordTransactionPhase(db, { transactionId: transaction.id, key: "run-1/2", phase: "confirming", txHash: "0x1", nonce: 1 });
      expect(await getTransaction(db, transaction.id)).toMatchObject({ phase: "confirming", txHash: "0x1", blockNumber: null });
    });

    it("refuse a phase change for a transaction never stored, leaving no transition", async () => {
      const transactionId = unique("ghost");
      await expect(recordTransactionPhase(db, { transactionId, key: "run-1/1", phase: "confirming" })).rejects.toSatisfy((error) => sqlStateOf(error) === "23503");
      expect(await listTransactionTransitions(db, transactionId)).toEqual([]);
    });

    it("list records left in a non-terminal phase longer than a threshold", async () => {
      const { transaction } = await insertTransaction(db, newTransaction());
      const longAgo = new Date(Date.now() - 3_600_000);
      await recordTransactionPhase(db, { transactionId: transaction.id, key: "run-1/1", phase: "confirming", at: longAgo });
      const stale = await listTransactionsInPhases(db, { phases: ["confirming"], olderThan: new Date(Date.now() - 60_000), limit: 1000 });
      expect(stale.map((row) => row.id)).toContain(transaction.id);
      const none = await listTransactionsInPhases(db, { phases: ["confirming"], olderThan: new Date(longAgo.getTime() - 1), limit: 1000 });
      expect(none.map((row) => row.id)).not.toContain(transaction.id);
    });

    it("list only the phases asked for, oldest change first, up to the limit", async () => {
      const organizationId = unique("org");
      const longAgo = Date.now() - 7_200_000;
      const ids: string[] = [];
      for (const [i, phase] of (["confirming", "submitting", "confirming", "completed", "confirming"] as const).entries()) {
        const { transaction } = await insertTransaction(db, { ...newTransaction(), organizationId });
        await recordTransactionPhase(db, { transactionId: transaction.id, key: "run-1/1", phase, at: new Date(longAgo + i * 1000) });
        ids.push(transaction.id);
      }
      const listed = await listTransactionsInPhases(db, { phases: ["confirming", "submitting"], olderThan: new Date(longAgo + 10_000), limit: 1000 });
      expect(listed.filter((row) => row.organizationId === organizationId).map((row) => row.id)).toEqual([ids[0], ids[1], ids[2], ids[4]]);
      expect(await listTransactionsInPhases(db, { phases: ["confirming"], olderThan: new Date(), limit: 2 })).toHaveLength(2);
    });
  });

  describe("audit log", () => {
    it("records an entry and its outcome", async () => {
      const actorId = unique("alice");
      const entry = await insertAuditEntry(db, { requestId: "req-1", actorId, actorRole: "operator", route: "doctor", arguments: {} });
      await finishAuditEntry(db, entry.id, { outcome: "failure", errorCode: "RESTATE_ADMIN_UNREACHABLE", errorMessage: "down" });
      const { entries } = await listAuditEntries(db, { limit: 10, actorId });
      expect(entries[0]).toMatchObject({ requestId: "req-1", actorRole: "operator", outcome: "failure", errorCode: "RESTATE_ADMIN_UNREACHABLE", errorMessage: "down" });
      expect(entries[0]?.finishedAt).toBeInstanceOf(Date);
    });

    it("keeps an entry without outcome until it is finished", async () => {
      const entry = await insertAuditEntry(db, {
        requestId: unique("req"),
        actorId: unique("actor"),
        actorRole: "operator",
        route: "replay",
        arguments: { id: "x" },
        reason: "stuck",
      });
      expect(entry).toMatchObject({ outcome: null, finishedAt: null, reason: "stuck", arguments: { id: "x" } });
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

    it("pages entries that started at the same instant without losing or repeating any", async () => {
      const actorId = unique("actor");
      const startedAt = new Date("2030-06-01T00:00:00.000Z");
      for (let i = 0; i < 5; i++) await insertAuditEntry(db, { requestId: `s${i}`, actorId, actorRole: "viewer", route: "status", arguments: {}, startedAt });
      const seen: string[] = [];
      let before = undefined as Parameters<typeof listAuditEntries>[1]["before"];
      for (let page = 0; page < 10; page++) {
        const result = await listAuditEntries(db, { limit: 2, actorId, before });
        seen.push(...result.entries.map((e) => e.requestId));
        if (!result.nextCursor) break;
        before = result.nextCursor;
      }
      expect([...seen].sort()).toEqual(["s0", "s1", "s2", "s3", "s4"]);
    });

    it("filters by a start-time window", async () => {
      const actorId = unique("actor");
      const base = Date.UTC(2030, 0, 1);
      for (let i = 0; i < 4; i++) {
        await insertAuditEntry(db, { requestId: `w${i}`, actorId, actorRole: "viewer", route: "status", arguments: {}, startedAt: new Date(base + i * 60_000) });
      }
      const { entries } = await listAuditEntries(db, { limit: 10, actorId, from: new Date(base + 60_000), to: new Date(base + 120_000) });
      expect(entries.map((e) => e.requestId)).toEqual(["w2", "w1"]);
    });

    it("rejects a malformed cursor", () => {
      expect(decodeAuditCursor("not-a-cursor")).toBeUndefined();
    });

    it("rejects a cursor whose id is not a uuid", () => {
      expect(decodeAuditCursor(encodeAuditCursor({ startedAt: new Date().toISOString(), id: "1' or '1'='1" }))).toBeUndefined();
    });
  });

  describe("API keys", () => {
    it("are found by their clear value, which is stored nowhere", async () => {
      const created = await createApiKey(db, { actorId: "bob", role: "operator", permissions: ["system:operate"] });
      expect(await findApiKeyByPlaintext(db, created.key)).toMatchObject({ id: created.id, actorId: "bob", role: "operator", permissions: ["system:operate"] });
      const rows = await db.execute<Record<string, unknown>>(sql`select * from api_keys`);
      expect(JSON.stringify(rows)).not.toContain(created.key);
    });

    it("keep only the SHA-256 hash and the first 8 characters of a key", async () => {
      const created = await createApiKey(db, { actorId: "dave", role: "viewer", permissions: [] });
      expect(created.key).toMatch(/^ddwf_[A-Za-z0-9_-]{43}$/);
      expect(hashApiKey(created.key)).toBe(createHash("sha256").update(created.key).digest("hex"));
      const [row] = await db.execute<{ key_hash: string; key_prefix: string }>(sql`select key_hash, key_prefix from api_keys where id = ${created.id}`);
      expect(row).toEqual({ key_hash: hashApiKey(created.key), key_prefix: created.key.slice(0, 8) });
    });

    it("are not found when unknown or revoked", async () => {
      const created = await createApiKey(db, { actorId: "carol", role: "operator", permissions: ["system:operate"] });
      expect(await findApiKeyByPlaintext(db, `${created.key}x`)).toBeUndefined();
      expect(await revokeApiKey(db, created.id)).toBe(true);
      expect(await revokeApiKey(db, created.id)).toBe(false);
      expect(await findApiKeyByPlaintext(db, created.key)).toBeUndefined();
    });

    it("record when a key was last used", async () => {
      const created = await createApiKey(db, { actorId: "erin", role: "operator", permissions: [] });
      expect((await findApiKeyByPlaintext(db, created.key))?.lastUsedAt).toBeNull();
      const at = new Date("2031-02-03T04:05:06.789Z");
      await touchApiKey(db, created.id, at);
      expect((await findApiKeyByPlaintext(db, created.key))?.lastUsedAt).toEqual(at);
    });

    it("store a configured key once however often it is inserted", async () => {
      const before = await countActiveApiKeys(db);
      const key = `bootstrap-${crypto.randomUUID()}`;
      const first = await insertApiKeyWithPlaintext(db, { key, actorId: "boot", role: "operator", permissions: [] });
      const second = await insertApiKeyWithPlaintext(db, { key, actorId: "boot", role: "operator", permissions: [] });
      expect(first.created).toBe(true);
      expect(second).toEqual({ id: first.id, created: false });
      expect(await countActiveApiKeys(db)).toBe(before + 1);
    });
  });

  describe("webhooks", () => {
    const newSubscription = (eventTypes = ["*"], enabled = true) =>
      createWebhookSubscription(db, { id: unique("sub"), url: "http://127.0.0.1:1/hook", eventTypes, secrets: [], enabled });

    it("deliver one event once per subscription and count each attempt once", async () => {
      const subscription = await createWebhookSubscription(db, {
        id: unique("sub"),
        url: "http://127.0.0.1:1/hook",
        eventTypes: ["transaction.completed"],
        secrets: [{ ciphertext: "v1:k:bm9uY2U:c2VhbGVk", createdAt: new Date().toISOString() }],
      });
      const delivery = { id: unique("dlv"), subscriptionId: subscription.id, eventId: "evt-1", eventType: "transaction.completed", payload: { a: 1 } };
      const first = await insertWebhookDelivery(db, delivery);
      const again = await insertWebhookDelivery(db, { ...delivery, id: unique("dlv") });
      expect(first.created).toBe(true);
      expect(again).toMatchObject({ created: false, delivery: { id: first.delivery.id } });
      await recordWebhookDeliveryAttempt(db, { deliveryId: delivery.id, attempt: 1, statusCode: 503, latencyMs: 12, error: null });
      await recordWebhookDeliveryAttempt(db, { deliveryId: delivery.id, attempt: 1, statusCode: 503, latencyMs: 12, error: null });
      expect(await listWebhookDeliveryAttempts(db, delivery.id)).toHaveLength(1);
    });

    it("refuse a second delivery row for the same subscription and event", async () => {
      const subscription = await newSubscription();
      const insertRow = () =>
        db.execute(
          sql`insert into webhook_deliveries (id, subscription_id, event_id, event_type, payload) values (${unique("dlv")}, ${subscription.id}, 'evt-dup', 't', '{}'::jsonb)`,
        );
      await insertRow();
      await expect(insertRow()).rejects.toSatisfy((error) => sqlStateOf(error) === "23505");
    });

    it("count each attempt once on its delivery and record its status", async () => {
      const subscription = await newSubscription();
      const { delivery } = await insertWebhookDelivery(db, { id: unique("dlv"), subscriptionId: subscription.id, eventId: "e", eventType: "t", payload: {} });
      expect(delivery).toMatchObject({ status: "pending", attemptCount: 0 });
      await recordWebhookDeliveryAttempt(db, { deliveryId: delivery.id, attempt: 1, statusCode: null, latencyMs: 5000, error: "timeout" });
      await recordWebhookDeliveryAttempt(db, { deliveryId: delivery.id, attempt: 1, statusCode: null, latencyMs: 5000, error: "timeout" });
      await recordWebhookDeliveryAttempt(db, { deliveryId: delivery.id, attempt: 2, statusCode: 200, latencyMs: 8, error: null });
      const retryAt = new Date("2032-01-01T00:00:00.000Z");
      await setWebhookDeliveryStatus(db, delivery.id, { status: "failed", nextAttemptAt: retryAt });
      expect(await getWebhookDelivery(db, delivery.id)).toMatchObject({ status: "failed", attemptCount: 2, nextAttemptAt: retryAt });
      const deliveredAt = new Date("2032-01-01T00:00:01.000Z");
      await setWebhookDeliveryStatus(db, delivery.id, { status: "delivered", nextAttemptAt: null, deliveredAt });
      expect(await getWebhookDelivery(db, delivery.id)).toMatchObject({ status: "delivered", nextAttemptAt: null, deliveredAt });
      expect((await listWebhookDeliveryAttempts(db, delivery.id)).map((a) => [a.attempt, a.statusCode, a.error])).toEqual([
        [1, null, "timeout"],
        [2, 200, null],
      ]);
    });

    it("find enabled subscriptions by event type, including wildcards", async () => {
      const eventType = `custom.${crypto.randomUUID()}`;
      const exact = await newSubscription([eventType]);
      const wildcard = await newSubscription(["*"]);
      const disabled = await newSubscription([eventType], false);
      const other = await newSubscription([`${eventType}.other`]);
      const found = (await listEnabledSubscriptionsForEvent(db, eventType)).map((s) => s.id);
      expect(found).toEqual(expect.arrayContaining([exact.id, wildcard.id]));
      expect(found).not.toContain(disabled.id);
      expect(found).not.toContain(other.id);
    });

    it("keep two secrets during a rotation and stop matching once disabled", async () => {
      const eventType = `custom.${crypto.randomUUID()}`;
      const subscription = await createWebhookSubscription(db, {
        id: unique("sub"),
        url: "http://a",
        eventTypes: [eventType],
        secrets: [{ ciphertext: "v1:k:b2xk:b2xk", createdAt: "2030-01-01T00:00:00.000Z" }],
      });
      const rotated = [
        { ciphertext: "v1:k:b2xk:b2xk", createdAt: "2030-01-01T00:00:00.000Z", expiresAt: "2030-01-02T00:00:00.000Z" },
        { ciphertext: "v1:k:bmV3:bmV3", createdAt: "2030-01-01T12:00:00.000Z" },
      ];
      expect(await updateWebhookSubscription(db, subscription.id, { secrets: rotated })).toMatchObject({ secrets: rotated });
      await updateWebhookSubscription(db, subscription.id, { enabled: false });
      expect(await getWebhookSubscription(db, subscription.id)).toMatchObject({ enabled: false, secrets: rotated });
      expect((await listEnabledSubscriptionsForEvent(db, eventType)).map((s) => s.id)).not.toContain(subscription.id);
    });

    it("report an update of an unknown subscription as not found", async () => {
      expect(await updateWebhookSubscription(db, unique("sub"), { enabled: true })).toBeUndefined();
    });

    it("delete a subscription with its deliveries and attempts", async () => {
      const subscription = await newSubscription();
      const { delivery } = await insertWebhookDelivery(db, { id: unique("dlv"), subscriptionId: subscription.id, eventId: "e", eventType: "t", payload: {} });
      await recordWebhookDeliveryAttempt(db, { deliveryId: delivery.id, attempt: 1, statusCode: 500, latencyMs: 3, error: null });
      expect((await listWebhookSubscriptions(db)).map((s) => s.id)).toContain(subscription.id);
      expect(await deleteWebhookSubscription(db, subscription.id)).toBe(true);
      expect(await deleteWebhookSubscription(db, subscription.id)).toBe(false);
      expect(await getWebhookDelivery(db, delivery.id)).toBeUndefined();
      expect(await listWebhookDeliveryAttempts(db, delivery.id)).toEqual([]);
    });
  });

  describe("dead letters", () => {
    it("are filed once per id, listed while open, and replayed once", async () => {
      const id = unique("dl");
      const letter = { id, kind: "transaction" as const, referenceId: "tx-9", causeCode: "RETRY_BUDGET_EXHAUSTED", causeMessage: "rpc down", payload: {} };
      await insertDeadLetter(db, letter);
      await insertDeadLetter(db, letter);
      expect((await listDeadLetters(db, { status: "open", limit: 1000 })).filter((row) => row.id === id)).toHaveLength(1);
      expect(await markDeadLetterReplayed(db, id)).toBe(true);
      expect(await markDeadLetterReplayed(db, id)).toBe(false);
      const replayed = await getDeadLetter(db, id);
      expect(replayed).toMatchObject({ status: "replayed", replayCount: 1 });
      expect(replayed?.replayedAt).toBeInstanceOf(Date);
      expect((await listDeadLetters(db, { status: "open", limit: 1000 })).map((row) => row.id)).not.toContain(id);
    });

    it("reopen when the same work dead-letters again after a replay", async () => {
      const id = unique("dl");
      const letter = { id, kind: "transaction" as const, referenceId: "tx-10", causeCode: "A", causeMessage: "first", payload: {} };
      await insertDeadLetter(db, letter);
      await markDeadLetterReplayed(db, id);
      await insertDeadLetter(db, { ...letter, causeCode: "B", causeMessage: "second" });
      expect(await getDeadLetter(db, id)).toMatchObject({ status: "open", causeCode: "B", replayCount: 1 });
    });

    it("list by kind and status", async () => {
      const webhook = { id: unique("dl"), kind: "webhook-delivery" as const, referenceId: unique("dlv"), causeCode: "C", causeMessage: "m", payload: { url: "http://x" } };
      const recovery = { id: unique("dl"), kind: "identity-recovery" as const, referenceId: unique("inv"), causeCode: "C", causeMessage: "m", payload: {} };
      await insertDeadLetter(db, webhook);
      await insertDeadLetter(db, recovery);
      const webhooks = await listDeadLetters(db, { kind: "webhook-delivery", status: "open", limit: 1000 });
      expect(webhooks.map((row) => row.id)).toContain(webhook.id);
      expect(webhooks.map((row) => row.id)).not.toContain(recovery.id);
      expect(webhooks.every((row) => row.kind === "webhook-delivery" && row.status === "open")).toBe(true);
      expect(await listDeadLetters(db, { limit: 1 })).toHaveLength(1);
    });

    it("are discarded only while open", async () => {
      const id = unique("dl");
      await insertDeadLetter(db, { id, kind: "transaction", referenceId: "tx-11", causeCode: "C", causeMessage: "m", payload: {} });
      expect(await discardDeadLetter(db, id)).toBe(true);
      expect(await discardDeadLetter(db, id)).toBe(false);
      expect(await markDeadLetterReplayed(db, id)).toBe(false);
      expect(await getDeadLetter(db, id)).toMatchObject({ status: "discarded", replayCount: 0, replayedAt: null });
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

    it("count each run on its own and nothing for a run never started", async () => {
      const [a, b] = [unique("run"), unique("run")];
      await Promise.all([recordCanaryStep(db, a, 1), recordCanaryStep(db, b, 1), recordCanaryStep(db, b, 1)]);
      expect(await countCanarySteps(db, a)).toEqual([{ step: 1, executions: 1 }]);
      expect(await countCanarySteps(db, b)).toEqual([{ step: 1, executions: 2 }]);
      expect(await countCanarySteps(db, unique("run"))).toEqual([]);
    });
  });
});
