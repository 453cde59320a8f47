/**
 * `npm run bench` (full) and `npm run bench -- --quick` (CI, under two minutes): starts its own
 * restate-server, anvil, embedded database and worker, measures the chain's ceiling, Restate's floor
 * (bench/floor: a workflow calling a virtual object, nothing of ddwf) and ddwf side by side in one
 * run at the same concurrency, ddwf again on PostgreSQL when BENCH_DATABASE_URL or TEST_DATABASE_URL
 * names a server, then recovery after a SIGKILL and the worker's footprint. Prints a table and writes bench/results/latest.json. No assertion here: targets are
 * compared in the output and discussed in bench/README.md. `--cluster` compares the single node with
 * the three-node cluster instead (bench/cluster.ts).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { chainCeiling } from "./scenarios/chain-ceiling.ts";
import { ddwfTransactions, type DdwfRun } from "./scenarios/ddwf-transactions.ts";
import { recovery } from "./scenarios/recovery.ts";
import { startRestateFloor } from "./scenarios/restate-floor.ts";
import { startBenchStack, switchToPostgres } from "./stack.ts";
import { round, type Summary } from "./stats.ts";

/** Concurrency of the floor and of ddwf in the side-by-side scenarios (closed loops). */
const CONCURRENCY = 32;

const quick = process.argv.includes("--quick");
if (process.argv.includes("--cluster")) {
  // The single node against the three-node cluster, in one run (bench/cluster.ts).
  const { runClusterBench } = await import("./cluster.ts");
  await runClusterBench({ quick });
  process.exit(0);
}
const size = quick
  ? { chainPerSender: 100, floor: 200, oneSender: 60, eightSenders: 160, recovery: 10, inFlight: 200 }
  : { chainPerSender: 400, floor: 800, oneSender: 300, eightSenders: 640, recovery: 40, inFlight: 1000 };
/** PostgreSQL server for the database variant (a fresh database is created on it and dropped). */
const postgresUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;

const startedAt = Date.now();
const bench = await startBenchStack({ senders: 8 });
try {
  console.log(`ddwf bench (${quick ? "quick" : "full"}): stack up in ${Math.round((Date.now() - startedAt) / 1000)} s`);
  const chainOne = await chainCeiling(bench, { senders: 1, perSender: size.chainPerSender });
  const chainEight = await chainCeiling(bench, { senders: 8, perSender: size.chainPerSender / 4 });
  const floor = await startRestateFloor(bench);
  const floorEight = await floor.start({ workflows: size.floor, concurrency: CONCURRENCY, keys: 8 });
  const floorOne = await floor.start({ workflows: size.floor, concurrency: CONCURRENCY, keys: 1 });
  await floor.stop();
  const ddwfEight = await ddwfTransactions(bench, { senders: 8, perSender: size.eightSenders / 8, label: "eight", concurrency: CONCURRENCY });
  const ddwfOne = await ddwfTransactions(bench, { senders: 1, perSender: size.oneSender, label: "one", concurrency: CONCURRENCY });
  const footprint = await ddwfTransactions(bench, { senders: 8, perSender: size.inFlight / 8, label: "inflight" });
  const recovered = await recovery(bench, { transactions: size.recovery });
  let onPostgres: { eightSenders: DdwfRun; oneSender: DdwfRun } | null = null;
  if (postgresUrl) {
    const pg = await switchToPostgres(bench, postgresUrl);
    try {
      onPostgres = {
        eightSenders: await ddwfTransactions(pg, { senders: 8, perSender: size.eightSenders / 8, label: "pg-eight", concurrency: CONCURRENCY }),
        oneSender: await ddwfTransactions(pg, { senders: 1, perSender: size.oneSender, label: "pg-one", concurrency: CONCURRENCY }),
      };
    } finally {
      await pg.stop();
    }
  }


  const ratio = (a: number, b: number) => round(a / b, 2);
  const results = {
    mode: quick ? "quick" : "full",
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", memoryGb: round(totalmem() / 2 ** 30), node: process.version },
    concurrency: CONCURRENCY,
    chainCeiling: { oneSender: chainOne, eightSenders: chainEight },
    restateFloor: { eightKeys: floorEight, oneKey: floorOne },
    ddwf: {
      eightSenders: { ...ddwfEight, ratioToFloor: ratio(ddwfEight.perSecond, floorEight.perSecond), ratioToChain: ratio(ddwfEight.perSecond, chainEight.perSecond) },
      oneSender: { ...ddwfOne, ratioToFloor: ratio(ddwfOne.perSecond, floorOne.perSecond), ratioToChain: ratio(ddwfOne.perSecond, chainOne.perSecond) },
      ...(onPostgres
        ? {
            postgres: {
              eightSenders: { ...onPostgres.eightSenders, ratioToFloor: ratio(onPostgres.eightSenders.perSecond, floorEight.perSecond) },
              oneSender: { ...onPostgres.oneSender, ratioToFloor: ratio(onPostgres.oneSender.perSecond, floorOne.perSecond) },
            },
          }
        : {}),
    },
    recovery: recovered,
    footprint: { transactionsInFlight: footprint.count, peakRssMb: footprint.peakRssMb, cpuSecondsPer1000: footprint.cpuSecondsPer1000, failed: footprint.failed },
    targets: {
      eightSendersAtLeastHalfTheFloor: ddwfEight.perSecond >= 0.5 * floorEight.perSecond,
      oneSenderAtLeast40PercentOfTheFloor: ddwfOne.perSecond >= 0.4 * floorOne.perSecond,
      cpuAtMost5SecondsPer1000: ddwfEight.cpuSecondsPer1000 <= 5,
      rssUnder250MbAt1000InFlight: footprint.count >= 1000 ? footprint.peakRssMb < 250 : null,
      submitP99Under50MsAtEightSenders: ddwfEight.submit.p99 < 50,
    },
  };

  const row = (name: string, s: Summary) =>
    `${name.padEnd(36)} ${String(s.count).padStart(6)} ${String(s.perSecond).padStart(9)}/s ${String(s.p50).padStart(8)} ${String(s.p95).padStart(8)} ${String(s.p99).padStart(8)}`;
  console.log(`\n${"scenario".padEnd(36)} ${"n".padStart(6)} ${"throughput".padStart(11)} ${"p50 ms".padStart(8)} ${"p95 ms".padStart(8)} ${"p99 ms".padStart(8)}`);
  console.log(row("chain ceiling, 1 sender", chainOne));
  console.log(row("chain ceiling, 8 senders", chainEight));
  console.log(row(`Restate floor, 8 keys, ${CONCURRENCY} at a time`, floorEight));
  console.log(row(`Restate floor, 1 key, ${CONCURRENCY} at a time`, floorOne));
  console.log(row(`ddwf, 8 senders, ${CONCURRENCY} at a time`, ddwfEight));
  console.log(row(`ddwf, 1 sender, ${CONCURRENCY} at a time`, ddwfOne));
  console.log(row("ddwf submit → accepted (202), 8", ddwfEight.accepted));
  console.log(row("ddwf submit → status readable, 8", ddwfEight.submit));
  if (onPostgres) {
    console.log(row("ddwf on PostgreSQL, 8 senders", onPostgres.eightSenders));
    console.log(row("ddwf on PostgreSQL, 1 sender", onPostgres.oneSender));
  }
  console.log(row(`ddwf, ${footprint.count} in flight`, footprint));
  console.log(`\nratios to the Restate floor: 8 senders ${results.ddwf.eightSenders.ratioToFloor}×, 1 sender ${results.ddwf.oneSender.ratioToFloor}×`);
  if (onPostgres) console.log(`on PostgreSQL: 8 senders ${results.ddwf.postgres?.eightSenders.ratioToFloor}×, 1 sender ${results.ddwf.postgres?.oneSender.ratioToFloor}×`);
  console.log(`worker CPU: ${ddwfEight.cpuSecondsPer1000} s per 1000 transactions (8 senders); submit p99: accepted ${ddwfEight.accepted.p99} ms, status readable ${ddwfEight.submit.p99} ms`);
  console.log(`recovery: ${recovered.inFlight} in flight, first completion ${recovered.toFirstCompletionMs} ms and all ${recovered.toAllCompletionsMs} ms after restart, exactly once: ${recovered.exactlyOnce}`);
  console.log(`footprint: worker peak RSS ${footprint.peakRssMb} MB with ${footprint.count} in flight; ${footprint.cpuSecondsPer1000} CPU s per 1000 transactions`);
  console.log(`targets: ${JSON.stringify(results.targets)}`);
  await mkdir("bench/results", { recursive: true });
  await writeFile("bench/results/latest.json", `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote bench/results/latest.json in ${Math.round((Date.now() - startedAt) / 1000)} s`);
} finally {
  await bench.stop();
}
