/**
 * Worker replicas: the same worker (`node services/main.ts`) started several times on their own
 * endpoint and ops ports, all advertising the balancer's URL, so Restate knows one deployment.
 * Each is an owned child process that can be SIGKILLed and started again on the same ports.
 */
import { join, resolve } from "node:path";
import { createRestartableProcess, type RestartableProcess } from "./restartable-process.ts";

export type WorkerReplicaPorts = { endpoint: number; ops: number };

export type WorkerReplica = RestartableProcess & { name: string; ports: WorkerReplicaPorts; endpointUrl: string; opsUrl: string; logFile: string };

export function createWorkerReplica(parameters: {
  name: string;
  host: string;
  ports: WorkerReplicaPorts;
  /** Shared by every replica: Restate URLs (the balancer), WORKER_ADVERTISED_URL, database, chain, signers. */
  env: Record<string, string>;
  logDir: string;
}): WorkerReplica {
  const { name, host, ports } = parameters;
  const endpointUrl = `http://${host}:${ports.endpoint}`;
  const opsUrl = `http://${host}:${ports.ops}`;
  const logFile = join(parameters.logDir, `${name}.log`);
  const replica = createRestartableProcess({
    process: {
      name,
      command: process.execPath,
      args: [resolve("services/main.ts")],
      env: { ...parameters.env, WORKER_HOST: host, HTTP_HOST: host, WORKER_PORT: String(ports.endpoint), OPS_PORT: String(ports.ops) },
      output: logFile,
    },
    // Ready: registered (or found unchanged) and background jobs started. SIGTERM closes the
    // endpoint gracefully: open invocations finish.
    serving: {
      description: `${name} to be ready (log: ${logFile})`,
      check: async () => (await fetch(`${opsUrl}/health/ready`, { signal: AbortSignal.timeout(1_000) })).status === 200,
    },
    graceMs: 10_000,
  });
  return { ...replica, name, ports, endpointUrl, opsUrl, logFile };
}
