/**
 * ddwf end to end: `senders × perSender` transfers through the typed client, each followed to
 * `completed` (one confirmation): all submitted at once, or `concurrency` at a time (a closed loop,
 * as the Restate floor is driven). Latency is submit → completed per transaction; `accepted` is
 * submit → Restate's 202, `submit` is submit → the operation stored and its status readable (what
 * the typed client's submitTransaction waits for).
 * The workers' CPU time (summed over replicas) and peak memory (the largest replica) over the run are
 * read from /proc.
 */
import * as clients from "@restatedev/restate-sdk-clients";
import type { Hex } from "viem";
import { transactionExecutionWorkflow } from "../../services/workflows/transaction-execution/api.ts";
import { cpuSeconds, peakRssMb } from "../process-stats.ts";
import type { BenchStack } from "../stack.ts";
import { round, summarize, type Summary } from "../stats.ts";

export type DdwfRun = Summary & { cpuSecondsPer1000: number; peakRssMb: number; failed: number; submit: Summary; accepted: Summary };

/** What the scenario needs: the single-node bench stack, or the cluster's (several worker processes). */
export type TransactionTarget = Pick<BenchStack, "senders" | "client"> & { stack: Pick<BenchStack["stack"], "restateIngressUrl" | "chainId">; workerPids(): number[] };

export async function ddwfTransactions(
  bench: TransactionTarget,
  parameters: { senders: number; perSender: number; label: string; concurrency?: number },
): Promise<DdwfRun> {
  const ingress = clients.connect({ url: bench.stack.restateIngressUrl });
  const pids = bench.workerPids();
  const cpuOf = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const cpuBefore = cpuOf();
  const latencies: number[] = [];
  const submitLatencies: number[] = [];
  const acceptLatencies: number[] = [];
  let failed = 0;
  const senders = bench.senders.slice(0, parameters.senders);
  const total = senders.length * parameters.perSender;
  const one = async (i: number) => {
    const sender = senders[i % senders.length]!;
    const transactionId = `bench_${parameters.label}_${sender.address.slice(2, 10)}_${i}_${crypto.randomUUID().slice(0, 8)}`;
    const workflow = ingress.workflowClient(transactionExecutionWorkflow, transactionId);
    const t0 = performance.now();
    // What the typed client's submitTransaction does, timed step by step: Restate takes the run
    // (accepted), then the run's first step has stored the operation (status readable).
    await workflow.workflowSubmit({
      transactionId,
      organizationId: "bench",
      chainId: bench.stack.chainId,
      signerAddress: sender.address.toLowerCase() as Hex,
      target: sender.address.toLowerCase() as Hex,
      data: "0x",
      value: "1",
      executor: { route: "eoa" },
    });
    acceptLatencies.push(performance.now() - t0);
    const outcome = await workflow.submission();
    if (!outcome || "refused" in outcome) failed += 1;
    submitLatencies.push(performance.now() - t0);
    const status = await workflow.workflowAttach();
    if (status.phase !== "completed") failed += 1;
    latencies.push(performance.now() - t0);
  };
  const started = performance.now();
  if (parameters.concurrency) {
    let next = 0;
    await Promise.all(Array.from({ length: parameters.concurrency }, async () => {
      while (next < total) await one(next++);
    }));
  } else {
    await Promise.all(Array.from({ length: total }, (_, i) => one(i)));
  }
  const wall = performance.now() - started;
  const cpu = cpuOf() - cpuBefore;
  return {
    ...summarize(latencies, wall),
    submit: summarize(submitLatencies, wall),
    accepted: summarize(acceptLatencies, wall),
    cpuSecondsPer1000: round((cpu / latencies.length) * 1000, 2),
    peakRssMb: round(Math.max(...pids.map((pid) => peakRssMb(pid)))),
    failed,
  };
}
