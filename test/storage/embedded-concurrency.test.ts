import { and, eq, inArray, like, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../shared/db/client.ts";
import { canarySteps, transactions, transactionTransitions } from "../../shared/db/schema/index.ts";
import { databaseTargets, type OpenedTarget } from "./database-targets.ts";

/**
 * The worker and the DAPI are separate processes, each with its own postgres.js pool of 10, on one
 * embedded wire server. Two pools here fire the worker's kind of load at once: explicit
 * transactions that read their own writes, plain inserts and plain selects, plus transactions that
 * fail (thrown in the callback, or refused by the database) and must leave nothing behind.
 * The same load runs on PostgreSQL when TEST_DATABASE_URL is set, as a point of comparison.
 */
const OPERATIONS_PER_POOL = 200;
const POOL_SIZE = 10;

type Kind = "transaction" | "insert" | "select" | "throwing-transaction" | "refused-transaction";

/** One in ten operations is a transaction that must roll back, alternating how it fails. */
function kindOf(i: number): Kind {
  if (i % 10 === 9) return i % 20 === 9 ? "throwing-transaction" : "refused-transaction";
  return (["transaction", "insert", "select"] as const)[i % 3]!;
}

class IntendedFailure extends Error {}

type Outcome = { index: number; kind: Kind; ms: number; sawOwnWrites?: boolean; error?: unknown };

function runOperation(db: Database, run: string, pool: string, i: number): Promise<Outcome> {
  const id = `${run}-${pool}-${i}`;
  const kind = kindOf(i);
  const started = performance.now();
  const operation = async (): Promise<Partial<Outcome>> => {
    switch (kind) {
      case "transaction":
        return db.transaction(async (tx) => {
          await tx.insert(transactions).values(operationRow(id, run));
          const [inserted] = await tx.select({ phase: transactions.phase }).from(transactions).where(eq(transactions.id, id));
          await tx.insert(transactionTransitions).values({ transactionId: id, sequence: 1, key: "run/1", phase: "confirming", txHash: `0x${i.toString(16)}` });
          await tx.update(transactions).set({ phase: "confirming", txHash: `0x${i.toString(16)}`, nonce: i }).where(eq(transactions.id, id));
          const [updated] = await tx.select({ phase: transactions.phase, nonce: transactions.nonce }).from(transactions).where(eq(transactions.id, id));
          return { sawOwnWrites: inserted?.phase === "submitting" && updated?.phase === "confirming" && updated.nonce === i };
        });
      case "insert":
        await db.insert(canarySteps).values({ runKey: `${run}-${pool}`, step: i });
        return {};
      case "select":
        await db.select({ count: sql<number>`count(*)::int` }).from(transactions).where(like(transactions.id, `${run}-%`));
        return {};
      case "throwing-transaction":
        try {
          await db.transaction(async (tx) => {
            await tx.insert(transactions).values(operationRow(id, run));
            await tx.insert(canarySteps).values({ runKey: `${run}-${pool}`, step: i });
            throw new IntendedFailure(id);
          });
        } catch (error) {
          if (error instanceof IntendedFailure) return {};
          throw error;
        }
        throw new Error(`${id} committed although it threw`);
      case "refused-transaction":
        try {
          await db.transaction(async (tx) => {
            await tx.insert(transactions).values(operationRow(id, run));
            // Same idempotency key as the row just inserted in this transaction: a unique violation
            // that does not depend on what other transactions commit meanwhile, rolled back.
            await tx.insert(transactions).values({ ...operationRow(`${id}-twin`, run), idempotencyKey: id });
          });
        } catch (error) {
          if (causeCode(error) === "23505") return {};
          throw error;
        }
        throw new Error(`${id} committed although the database refused it`);
    }
  };
  return operation().then(
    (result) => ({ index: i, kind, ms: performance.now() - started, ...result }),
    (error: unknown) => ({ index: i, kind, ms: performance.now() - started, error }),
  );
}

function operationRow(id: string, run: string) {
  return {
    id,
    organizationId: run,
    chainId: 31337,
    signerAddress: "0x00000000000000000000000000000000000000aa",
    target: "0x00000000000000000000000000000000000000bb",
    executor: { route: "eoa" },
    idempotencyKey: id,
  };
}

function causeCode(error: unknown): string | undefined {
  for (let current = error as { code?: unknown; cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    if (typeof current.code === "string") return current.code;
  }
  return undefined;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

describe.each(databaseTargets(process.env))("two pools of $name under the worker's concurrency", (target) => {
  let opened: OpenedTarget;
  let worker: Database;
  let dapi: Database;
  const run = `load_${crypto.randomUUID().slice(0, 8)}`;
  let outcomes: { pool: string; outcome: Outcome }[] = [];
  let elapsedMs = 0;

  beforeAll(async () => {
    opened = await target.open({ poolSize: 2 });
    worker = opened.connect(POOL_SIZE).db;
    dapi = opened.connect(POOL_SIZE).db;
    const started = performance.now();
    const [fromWorker, fromDapi] = await Promise.all(
      [
        ["worker", worker],
        ["dapi", dapi],
      ].map(([pool, db]) =>
        Promise.all(Array.from({ length: OPERATIONS_PER_POOL }, (_, i) => runOperation(db as Database, run, pool as string, i))).then((results) =>
          results.map((outcome) => ({ pool: pool as string, outcome })),
        ),
      ),
    );
    elapsedMs = performance.now() - started;
    outcomes = [...fromWorker!, ...fromDapi!];
    const latencies = outcomes.map(({ outcome }) => outcome.ms);
    const perSecond = Math.round((outcomes.length / elapsedMs) * 1000);
    const stats = opened.server ? ` wire server ${JSON.stringify(opened.server.stats())}` : "";
    console.log(
      `[${target.name}] ${outcomes.length} operations (2 pools x ${POOL_SIZE} connections) in ${Math.round(elapsedMs)} ms: ` +
        `${perSecond} ops/s; latency p50 ${Math.round(percentile(latencies, 50))} ms, p95 ${Math.round(percentile(latencies, 95))} ms, ` +
        `max ${Math.round(percentile(latencies, 100))} ms;${stats}`,
    );
  });
  afterAll(async () => {
    await opened?.close();
  });

  it("runs every operation without a query error", () => {
    const failed = outcomes
      .filter(({ outcome }) => outcome.error !== undefined)
      .map(({ pool, outcome }) => ({ pool, index: outcome.index, kind: outcome.kind, error: String(outcome.error) }));
    expect(failed).toEqual([]);
    expect(outcomes).toHaveLength(2 * OPERATIONS_PER_POOL);
  });

  it("lets every transaction read its own writes", () => {
    const committed = outcomes.filter(({ outcome }) => outcome.kind === "transaction");
    expect(committed.length).toBeGreaterThan(0);
    expect(committed.filter(({ outcome }) => outcome.sawOwnWrites !== true)).toEqual([]);
  });

  it("keeps every committed row exactly once", async () => {
    const expectedIds = outcomes.filter(({ outcome }) => outcome.kind === "transaction").map(({ pool, outcome }) => `${run}-${pool}-${outcome.index}`);
    expect(expectedIds).toHaveLength(new Set(expectedIds).size);
    const rows = await worker
      .select({ id: transactions.id, phase: transactions.phase, nonce: transactions.nonce })
      .from(transactions)
      .where(eq(transactions.organizationId, run));
    expect(rows.map((row) => row.id).sort()).toEqual([...expectedIds].sort());
    expect(rows.every((row) => row.phase === "confirming")).toBe(true);
    const transitions = await worker
      .select({ transactionId: transactionTransitions.transactionId, count: sql<number>`count(*)::int` })
      .from(transactionTransitions)
      .where(inArray(transactionTransitions.transactionId, expectedIds))
      .groupBy(transactionTransitions.transactionId);
    expect(transitions).toHaveLength(expectedIds.length);
    expect(transitions.every((row) => row.count === 1)).toBe(true);

    for (const pool of ["worker", "dapi"]) {
      const inserted = await worker
        .select({ step: canarySteps.step, count: sql<number>`count(*)::int` })
        .from(canarySteps)
        .where(eq(canarySteps.runKey, `${run}-${pool}`))
        .groupBy(canarySteps.step);
      const expectedSteps = Array.from({ length: OPERATIONS_PER_POOL }, (_, i) => i).filter((i) => kindOf(i) === "insert");
      expect(inserted.map((row) => row.step).sort((a, b) => a - b)).toEqual(expectedSteps);
      expect(inserted.every((row) => row.count === 1)).toBe(true);
    }
  });

  it("rolls back the transactions that failed, and only them", async () => {
    const failedIndexes = Array.from({ length: OPERATIONS_PER_POOL }, (_, i) => i).filter((i) => kindOf(i).endsWith("-transaction"));
    expect(failedIndexes.length).toBeGreaterThan(0);
    const ids = ["worker", "dapi"].flatMap((pool) => failedIndexes.flatMap((i) => [`${run}-${pool}-${i}`, `${run}-${pool}-${i}-twin`]));
    expect(await worker.select({ id: transactions.id }).from(transactions).where(inArray(transactions.id, ids))).toEqual([]);
    const leaked = await worker
      .select({ step: canarySteps.step })
      .from(canarySteps)
      .where(and(like(canarySteps.runKey, `${run}-%`), inArray(canarySteps.step, failedIndexes)));
    expect(leaked).toEqual([]);
  });

  it("leaves the pools usable afterwards", async () => {
    const [fromWorker] = await worker.select({ count: sql<number>`count(*)::int` }).from(transactions).where(eq(transactions.organizationId, run));
    const [fromDapi] = await dapi.select({ count: sql<number>`count(*)::int` }).from(transactions).where(eq(transactions.organizationId, run));
    expect(fromDapi).toEqual(fromWorker);
  });
});
