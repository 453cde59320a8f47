/**
 * `npm run bench -- --cluster`: the same ddwf load on one restate-server and on the three-node
 * cluster (replication 2, HAProxy, two worker replicas), one after the other on the same machine,
 * then the recovery after a node is SIGKILLed. Prints the ratios side by side and writes
 * bench/results/cluster-latest.json. No assertion: the figures are discussed in bench/README.md.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { chainPosition, checkExactlyOnce, startClusterHarness, type ClusterHarness, type LoadJob } from "../test/helpers/cluster-harness.ts";
import { TERMINAL_PHASES } from "../services/workflows/transaction-execution/status.ts";
import { ddwfTransactions, type DdwfRun } from "./scenarios/ddwf-transactions.ts";
import { startBenchStack } from "./stack.ts";
import { round } from "./stats.ts";

const WORKER_TUNING = { TX_RECEIPT_POLL_INTERVAL_MS: "200", CHAIN_MONITOR_POLL_MS: "100", LOG_LEVEL: "warn", DATABASE_POOL_SIZE: "10" };

type NodeKillRecovery = {
  inFlight: number;
  /** All M transactions, no fault: submit → last completion. */
  withoutKillMs: number;
  /** The same with a node SIGKILLed right after submission: kill → first and → last completion. */
  toFirstCompletionMs: number;
  toAllCompletionsMs: number;
  /** What the kill cost: the difference of the two runs' last completions. */
  addedMs: number;
  exactlyOnce: boolean;
};

export async function runClusterBench(parameters: { quick: boolean }): Promise<void> {
  const size = parameters.quick ? { senders: 4, perSender: 10, recovery: 20 } : { senders: 8, perSender: 20, recovery: 40 };
  const startedAt = Date.now();

  const single = await startBenchStack({ senders: 8 });
  let singleRun: DdwfRun;
  try {
    await ddwfTransactions(single, { senders: size.senders, perSender: 2, label: "single_warmup" });
    singleRun = await ddwfTransactions(single, { senders: size.senders, perSender: size.perSender, label: "single" });
  } finally {
    await single.stop();
  }
  console.log(`single node: ${singleRun.perSecond} tx/s (${singleRun.count} transactions)`);

  const h = await startClusterHarness({ senders: 8, replicas: 2, workerEnv: WORKER_TUNING });
  let clusterRun: DdwfRun;
  let recovered: NodeKillRecovery;
  let spread: Record<string, number>;
  try {
    const target = {
      senders: h.senders,
      client: h.client,
      stack: { restateIngressUrl: h.cluster.urls.ingress, chainId: h.tools.chain.id },
      workerPids: () => h.cluster.replicas.map((replica) => replica.current()!.pid),
    };
    await ddwfTransactions(target, { senders: size.senders, perSender: 2, label: "cluster_warmup" });
    const before = await h.cluster.requestsPerReplica();
    clusterRun = await ddwfTransactions(target, { senders: size.senders, perSender: size.perSender, label: "cluster" });
    const after = await h.cluster.requestsPerReplica();
    spread = Object.fromEntries(Object.entries(after).map(([name, count]) => [name, count - (before[name] ?? 0)]));
    console.log(`cluster: ${clusterRun.perSecond} tx/s (${clusterRun.count} transactions), requests per replica ${JSON.stringify(spread)}`);
    recovered = await nodeKillRecovery(h, size.recovery);
  } finally {
    await h.stop();
  }

  const results = {
    mode: parameters.quick ? "cluster-quick" : "cluster",
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", memoryGb: round(totalmem() / 2 ** 30), node: process.version },
    singleNode: singleRun,
    cluster: { nodes: 3, replication: 2, partitions: 6, workerReplicas: 2, ...clusterRun, requestsPerReplica: spread },
    clusterToSingleRatio: round(clusterRun.perSecond / singleRun.perSecond, 2),
    nodeKillRecovery: recovered,
  };
  const row = (name: string, s: DdwfRun) =>
    `${name.padEnd(40)} ${String(s.count).padStart(6)} ${String(s.perSecond).padStart(9)}/s ${String(s.p50).padStart(8)} ${String(s.p95).padStart(8)} ${String(s.cpuSecondsPer1000).padStart(8)}`;
  console.log(`\n${"scenario".padEnd(40)} ${"n".padStart(6)} ${"throughput".padStart(11)} ${"p50 ms".padStart(8)} ${"p95 ms".padStart(8)} ${"CPU s/1k".padStart(8)}`);
  console.log(row(`ddwf, 1 node, 1 worker, ${size.senders} senders`, singleRun));
  console.log(row(`ddwf, 3 nodes, 2 replicas, ${size.senders} senders`, clusterRun));
  console.log(`\nratio: the cluster runs ${results.clusterToSingleRatio}× the single node's throughput on this machine`);
  console.log(
    `node SIGKILL with ${recovered.inFlight} in flight: first completion ${recovered.toFirstCompletionMs} ms and all ${recovered.toAllCompletionsMs} ms after the kill ` +
      `(${recovered.withoutKillMs} ms without a kill, so the kill added ${recovered.addedMs} ms); exactly once: ${recovered.exactlyOnce}`,
  );
  console.log(`requests per replica: ${JSON.stringify(spread)}`);
  await mkdir("bench/results", { recursive: true });
  await writeFile("bench/results/cluster-latest.json", `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote bench/results/cluster-latest.json in ${Math.round((Date.now() - startedAt) / 1000)} s`);
}

/**
 * M transactions submitted at once, twice: once undisturbed, once with the second node SIGKILLed
 * right after submission (it stays down until every transaction completed, then rejoins).
 */
async function nodeKillRecovery(h: ClusterHarness, transactions: number): Promise<NodeKillRecovery> {
  const burst = async (onSubmitted: () => Promise<void>) => {
    const jobs: LoadJob[] = h.senders.slice(0, 4).flatMap((sender, s) =>
      Array.from({ length: transactions / 4 }, (_, i) => ({ id: `bench_kill_${s}_${i}_${crypto.randomUUID().slice(0, 8)}`, tag: s * 1_000_000 + i, sender: sender.address, submittedAt: 0 })),
    );
    await Promise.all(
      jobs.map(async (job) => {
        job.submittedAt = Date.now();
        await h.client.submitTransaction({ transactionId: job.id, organizationId: "bench", chainId: h.tools.chain.id, signerAddress: job.sender, target: job.sender, value: "1", executor: { route: "eoa" } });
      }),
    );
    const t0 = Date.now();
    await onSubmitted();
    await Promise.all(
      jobs.map(async (job) => {
        // The status record in the database: it does not depend on which node is down.
        for (;;) {
          const status = await h.client.getTransactionStatus(job.id, { source: "database" });
          if (status && TERMINAL_PHASES.includes(status.phase)) {
            job.completedAt = Date.now();
            job.phase = status.phase;
            return;
          }
          if (Date.now() - t0 > 180_000) throw new Error(`transaction ${job.id} did not finish`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }),
    );
    const completions = jobs.map((job) => job.completedAt! - t0).sort((a, b) => a - b);
    return { jobs, first: completions[0]!, last: completions.at(-1)! };
  };
  const calm = await burst(async () => undefined);
  const victim = h.cluster.nodes[1]!;
  const position = await chainPosition(h);
  const killed = await burst(() => victim.kill());
  await victim.start();
  // Value transfers to self: exactly once is the nonces' check.
  const problems = await checkExactlyOnce(h, killed, position, { probeCalls: false });
  return {
    inFlight: transactions,
    withoutKillMs: calm.last,
    toFirstCompletionMs: killed.first,
    toAllCompletionsMs: killed.last,
    addedMs: killed.last - calm.last,
    exactlyOnce: problems.length === 0 && killed.jobs.every((job) => job.phase === "completed"),
  };
}
