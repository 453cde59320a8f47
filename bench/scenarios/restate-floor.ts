/**
 * Restate's floor, measured on the benchmark's own restate-server: `workflows` runs of
 * BenchFloorWorkflow (two steps, one call to a virtual object doing two steps and a state write),
 * submitted and attached through ingress, `concurrency` at a time, calling `keys` object keys
 * (as ddwf's transactions call one processor key per sender).
 */
import { join, resolve } from "node:path";
import * as clients from "@restatedev/restate-sdk-clients";
import { freePort } from "../../infra/local/free-port.ts";
import { startManagedProcess, type ManagedProcess } from "../../infra/local/managed-process.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { createRestateAdminClient } from "../../shared/restate/admin-client.ts";
import type { floorWorkflow } from "../floor/services.ts";
import type { BenchStack } from "../stack.ts";
import { summarize, type Summary } from "../stats.ts";

export type RestateFloor = { start(parameters: { workflows: number; concurrency: number; keys: number }): Promise<Summary>; stop(): Promise<void> };

/** Starts the floor's endpoint next to the worker and registers it. */
export async function startRestateFloor(bench: BenchStack): Promise<RestateFloor> {
  const port = await freePort();
  const endpoint: ManagedProcess = startManagedProcess({
    name: "bench-floor",
    command: process.execPath,
    args: [resolve("bench/floor/endpoint.ts"), String(port)],
    env: { ...process.env } as Record<string, string>,
    output: join(bench.stack.logDir, "bench-floor.log"),
  });
  const admin = createRestateAdminClient({ baseUrl: bench.stack.restateAdminUrl });
  await waitFor(
    "the floor endpoint to register",
    async () => (await admin.registerDeployment({ uri: `http://127.0.0.1:${port}`, force: true })).id.length > 0,
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  const ingress = clients.connect({ url: bench.stack.restateIngressUrl });
  return {
    start: async ({ workflows, concurrency, keys }) => {
      const latencies: number[] = [];
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < workflows) {
            const index = next++;
            const workflow = ingress.workflowClient<typeof floorWorkflow>({ name: "BenchFloorWorkflow" }, `floor-${crypto.randomUUID()}`);
            const t0 = performance.now();
            await workflow.workflowSubmit({ objectKey: `key-${index % keys}` });
            await workflow.workflowAttach();
            latencies.push(performance.now() - t0);
          }
        }),
      );
      return summarize(latencies, performance.now() - started);
    },
    stop: () => endpoint.stop({ graceMs: 5_000 }),
  };
}
