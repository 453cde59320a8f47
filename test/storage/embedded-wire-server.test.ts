import { spawn } from "node:child_process";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../../shared/db/embedded/start-embedded-postgres.ts";

/**
 * The embedded database is shared by separate processes (worker, DAPI) through the wire server.
 * These tests drive it the way they do: several postgres.js pools, concurrent transactions and
 * extended-protocol queries, and a client killed mid-transaction.
 */
describe("the embedded PGlite wire server", () => {
  let server: EmbeddedPostgres;
  const pools: postgres.Sql[] = [];
  const pool = (max = 10) => {
    const sql = postgres(server.url, { max, prepare: false, onnotice: () => {} });
    pools.push(sql);
    return sql;
  };

  beforeAll(async () => {
    server = await startEmbeddedPostgres({ dataDir: "memory://" });
    await pool(1)`create table items (id serial primary key, owner text not null, n int not null)`;
  });
  afterAll(async () => {
    for (const sql of pools) await sql.end();
    await server.stop();
  });

  it("keeps two pools' concurrent transactions and queries apart", async () => {
    const [worker, dapi] = [pool(), pool()];
    const started = performance.now();
    const results = await Promise.allSettled(
      Array.from({ length: 400 }, (_, i) => {
        const sql = i % 2 ? worker : dapi;
        if (i % 3 === 0) {
          return sql.begin(async (tx) => {
            const [row] = await tx`insert into items (owner, n) values (${`tx-${i}`}, ${i}) returning id`;
            const [seen] = await tx`select n from items where id = ${row!.id}`;
            if (seen!.n !== i) throw new Error(`transaction ${i} read ${seen!.n}`);
            await tx`update items set n = n + 1000 where id = ${row!.id}`;
          });
        }
        if (i % 3 === 1) return sql`insert into items (owner, n) values (${`plain-${i}`}, ${i})`;
        return sql`select count(*) from items where n > ${i}`;
      }),
    );
    const elapsed = performance.now() - started;
    console.log(`400 mixed operations from two pools in ${Math.round(elapsed)} ms; ${JSON.stringify(server.stats())}`);
    expect(results.filter((r) => r.status === "rejected")).toEqual([]);
    const [totals] = await worker<{ transactions: number; plain: number }[]>`
      select count(*) filter (where owner like 'tx-%' and n >= 1000)::int as transactions,
             count(*) filter (where owner like 'plain-%')::int as plain
      from items`;
    expect(totals).toEqual({ transactions: 134, plain: 133 });
  });

  it("rolls back a transaction that throws without touching the others", async () => {
    const sql = pool(4);
    await expect(
      sql.begin(async (tx) => {
        await tx`insert into items (owner, n) values ('doomed', 1)`;
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    const [doomed] = await sql<{ count: number }[]>`select count(*)::int as count from items where owner = 'doomed'`;
    expect(doomed?.count).toBe(0);
  });

  it("stays usable when a client process is killed inside a transaction, and drops its writes", async () => {
    const script = `
      import postgres from "postgres";
      const sql = postgres(process.argv[1], { max: 2, prepare: false });
      await sql.begin(async (tx) => {
        await tx\`insert into items (owner, n) values ('killed', 1)\`;
        console.log("inside");
        await new Promise(() => {});
      });`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script, server.url], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve) => child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("inside") && resolve()));
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));

    const sql = pool(2);
    const [killed] = await sql<{ count: number }[]>`select count(*)::int as count from items where owner = 'killed'`;
    expect(killed?.count).toBe(0);
  });
});
