/**
 * `npm run bench` (full) and `npm run bench -- --quick` (CI, under two minutes): starts its own
 * restate-server, anvil, embedded database and worker, measures the chain's ceiling, Restate's
 * ceiling and ddwf side by side in one run, then recovery after a SIGKILL and the worker's
 * footprint. Prints a table and writes bench/results/latest.json. No assertion here: targets are
 * compared in the output and discussed in bench/README.md. `--cluster` compares the single node with
 * the three-node cluster instead (bench/cluster.ts).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { chainCeiling } from "./scenarios/chain-ceiling.ts";
import { ddwfTransactions } from "./scenarios/ddwf-transactions.ts";
import { recovery } from "./scenarios/recovery.ts";
import { restateCeiling } from "./scenarios/restate-ceiling.ts";
import { startBenchStack } from "./stack.ts";
import { round } from "./stats.ts";

/** Journaled ctx.run steps of one transaction on the fast path (automine, first check confirms). */
const TRANSACTION_JOURNALED_STEPS = 12;

const quick = process.argv.includes("--quick");
if (process.argv.includes("--cluster")) {
  // The single node against the three-node cluster, in one run (bench/cluster.ts).
  const { runClusterBench } = await import("./cluster.ts");
  await runClusterBench({ quick });
  process.exit(0);
}
const size = quick
  ? { chainPerSender: 100, canaries: 60, oneSender: 30, eightSenders: 8, recovery: 10, inFlight: 200 }
  : { chainPerSender: 400, canaries: 300, oneSender: 150, eightSenders: 40, recovery: 40, inFlight: 1000 };

const startedAt = Date.now();
const bench = await startBenchStack({ senders: 8 });
try {
  console.log(`ddwf bench (${quick ? "quick" : "full"}): stack up in ${Math.round((Date.now() - startedAt) / 1000)} s`);
  const chainOne = await chainCeiling(bench, { senders: 1, perSender: size.chainPerSender });
  const chainEight = await chainCeiling(bench, { senders: 8, perSender: size.chainPerSender / 4 });
  const restateOne = await restateCeiling(bench, { workflows: size.canaries, steps: TRANSACTION_JOURNALED_STEPS, concurrency: 8 });
  const ddwfOne = await ddwfTransactions(bench, { senders: 1, perSender: size.oneSender, label: "one" });
  const ddwfEight = await ddwfTransactions(bench, { senders: 8, perSender: size.eightSenders, label: "eight" });
  const footprint = await ddwfTransactions(bench, { senders: 8, perSender: size.inFlight / 8, label: "inflight" });
  const recovered = await recovery(bench, { transactions: size.recovery });

  const ratio = (a: number, b: number) => round(a / b, 2);
  const results = {
    mode: quick ? "quick" : "full",
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", memoryGb: round(totalmem() / 2 ** 30), node: process.version },
    chainCeiling: { oneSender: chainOne, eightSenders: chainEight },
    restateCeiling: { steps: TRANSACTION_JOURNALED_STEPS, concurrency: 8, ...restateOne },
    ddwf: {
      oneSender: { ...ddwfOne, ratioToChain: ratio(ddwfOne.perSecond, chainOne.perSecond), ratioToRestate: ratio(ddwfOne.perSecond, restateOne.perSecond) },
      eightSenders: {
        ...ddwfEight,
        ratioToChain: ratio(ddwfEight.perSecond, chainEight.perSecond),
        ratioToRestate: ratio(ddwfEight.perSecond, restateOne.perSecond),
        ratioToLowerCeiling: ratio(ddwfEight.perSecond, Math.min(chainEight.perSecond, restateOne.perSecond)),
      },
    },
    recovery: recovered,
    footprint: { transactionsInFlight: footprint.count, peakRssMb: footprint.peakRssMb, cpuSecondsPer1000: footprint.cpuSecondsPer1000, failed: footprint.failed },
    targets: {
      oneSenderAtLeastHalfOfChain: ddwfOne.perSecond >= 0.5 * chainOne.perSecond,
      eightSendersAtLeastHalfOfLowerCeiling: ddwfEight.perSecond >= 0.5 * Math.min(chainEight.perSecond, restateOne.perSecond),
      rssUnder250MbAt1000InFlight: footprint.count >= 1000 ? footprint.peakRssMb < 250 : null,
    },
  };

  const row = (name: string, s: { perSecond: number; p50: number; p95: number; p99: number; count: number }) =>
    `${name.padEnd(34)} ${String(s.count).padStart(6)} ${String(s.perSecond).padStart(9)}/s ${String(s.p50).padStart(8)} ${String(s.p95).padStart(8)} ${String(s.p99).padStart(8)}`;
  console.log(`\n${"scenario".padEnd(34)} ${"n".padStart(6)} ${"throughput".padStart(11)} ${"p50 ms".padStart(8)} ${"p95 ms".padStart(8)} ${"p99 ms".padStart(8)}`);
  console.log(row("chain ceiling, 1 sender", chainOne));
  console.log(row("chain ceiling, 8 senders", chainEight));
  console.log(row(`restate ceiling, ${TRANSACTION_JOURNALED_STEPS}-step workflow`, restateOne));
  console.log(row("ddwf, 1 sender", ddwfOne));
  console.log(row("ddwf, 8 senders", ddwfEight));
  console.log(row(`ddwf, ${footprint.count} in flight`, footprint));
  console.log(`\nratios: 1 sender ${results.ddwf.oneSender.ratioToChain}× chain, ${results.ddwf.oneSender.ratioToRestate}× restate; 8 senders ${results.ddwf.eightSenders.ratioToLowerCeiling}× the lower ceiling`);
  console.log(`recovery: ${recovered.inFlight} in flight, first completion ${recovered.toFirstCompletionMs} ms and all ${recovered.toAllCompletionsMs} ms after restart, exactly once: ${recovered.exactlyOnce}`);
  console.log(`footprint: worker peak RSS ${footprint.peakRssMb} MB with ${footprint.count} in flight; ${footprint.cpuSecondsPer1000} CPU s per 1000 transactions`);
  console.log(`targets: ${JSON.stringify(results.targets)}`);
  await mkdir("bench/results", { recursive: true });
  await writeFile("bench/results/latest.json", `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote bench/results/latest.json in ${Math.round((Date.now() - startedAt) / 1000)} s`);
} finally {
  await bench.stop();
}
