/**
 * Recovery: M transactions submitted, the worker SIGKILLed at once while they are in flight, then
 * started again. Measures restart-ready → first completion and → all completions, and checks on
 * chain that every transaction was mined exactly once (by sender and nonce).
 */
import * as clients from "@restatedev/restate-sdk-clients";
import { transactionExecutionWorkflow } from "../../services/workflows/transaction-execution/api.ts";
import type { BenchStack } from "../stack.ts";
import { round } from "../stats.ts";

export type RecoveryRun = { inFlight: number; toFirstCompletionMs: number; toAllCompletionsMs: number; exactlyOnce: boolean };

export async function recovery(bench: BenchStack, parameters: { transactions: number }): Promise<RecoveryRun> {
  const ingress = clients.connect({ url: bench.stack.restateIngressUrl });
  const senders = bench.senders.slice(0, 2);
  const fromBlock = await bench.tools.client.getBlockNumber();
  const nonceBefore = await Promise.all(senders.map((s) => bench.tools.client.getTransactionCount({ address: s.address })));
  const ids = Array.from({ length: parameters.transactions }, (_, i) => ({ id: `bench_recovery_${i}_${crypto.randomUUID().slice(0, 8)}`, sender: senders[i % senders.length]! }));
  await Promise.all(
    ids.map(({ id, sender }) =>
      bench.client.submitTransaction({ transactionId: id, organizationId: "bench", chainId: bench.stack.chainId, signerAddress: sender.address, target: sender.address, value: "1", executor: { route: "eoa" } }),
    ),
  );
  await bench.worker.crash();
  await bench.worker.start();
  const ready = performance.now();
  const completions: number[] = [];
  await Promise.all(
    ids.map(async ({ id }) => {
      await ingress.workflowClient(transactionExecutionWorkflow, id).workflowAttach();
      completions.push(performance.now() - ready);
    }),
  );
  let exactlyOnce = true;
  for (const [index, sender] of senders.entries()) {
    const mined = (await bench.tools.minedTransactionsOf(sender.address, fromBlock + 1n)).map((tx) => tx.nonce).sort((a, b) => a - b);
    const expected = ids.filter((job) => job.sender === sender).length;
    const want = Array.from({ length: expected }, (_, i) => nonceBefore[index]! + i);
    if (JSON.stringify(mined) !== JSON.stringify(want)) exactlyOnce = false;
  }
  completions.sort((a, b) => a - b);
  return { inFlight: ids.length, toFirstCompletionMs: round(completions[0] ?? Number.NaN), toAllCompletionsMs: round(completions.at(-1) ?? Number.NaN), exactlyOnce };
}
