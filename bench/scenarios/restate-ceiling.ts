/**
 * Restate's own limit here: EngineCanary, a workflow of `steps` journaled steps (each writes one
 * database row, as ddwf's record steps do), invoked through ingress with the same concurrency.
 */
import * as clients from "@restatedev/restate-sdk-clients";
import type { EngineCanaryApi } from "../../services/workflows/engine-canary/api.ts";
import type { BenchStack } from "../stack.ts";
import { summarize, type Summary } from "../stats.ts";

export async function restateCeiling(bench: BenchStack, parameters: { workflows: number; steps: number; concurrency: number }): Promise<Summary> {
  const ingress = clients.connect({ url: bench.stack.restateIngressUrl });
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: parameters.concurrency }, async () => {
      while (next < parameters.workflows) {
        next += 1;
        const canary = ingress.workflowClient<EngineCanaryApi>({ name: "EngineCanary" }, `bench-${crypto.randomUUID()}`);
        const t0 = performance.now();
        await canary.workflowSubmit({ steps: parameters.steps });
        await canary.workflowAttach();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return summarize(latencies, performance.now() - started);
}
