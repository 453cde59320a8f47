/**
 * Worker replicas: the same worker (`node services/main.ts`) started several times on their own
 * endpoint and ops ports, all advertising the balancer's URL, so Restate knows one deployment.
 * Each is an owned child process that can be SIGKILLed and started again on the same ports.
 */
import { join, resolve } from "node:path";
import { startManagedProcess, type ManagedProcess } from "../local/managed-process.ts";
import { waitFor } from "../local/wait-for.ts";

export type WorkerReplicaPorts = { endpoint: number; ops: number };

export type WorkerReplica = {
  name: string;
  ports: WorkerReplicaPorts;
  opsUrl: string;
  logFile: string;
  current(): ManagedProcess | undefined;
  /** Starts the process and waits for its `/health/ready`. */
  start(options?: { timeoutMs?: number }): Promise<void>;
  /** SIGKILL: no shutdown code runs, as in a crash. */
  kill(): Promise<void>;
  /** SIGTERM (the worker closes its endpoint and finishes), then SIGKILL after the grace period. */
  stop(): Promise<void>;
};

export function createWorkerReplica(parameters: {
  name: string;
  host: string;
  ports: WorkerReplicaPorts;
  /** Shared by every replica: Restate URLs (the balancer), WORKER_ADVERTISED_URL, database, chain, signers. */
  env: Record<string, string>;
  logDir: string;
}): WorkerReplica {
  const { name, host, ports } = parameters;
  const opsUrl = `http://${host}:${ports.ops}`;
  const logFile = join(parameters.logDir, `${name}.log`);
  let child: ManagedProcess | undefined;
  return {
    name,
    ports,
    opsUrl,
    logFile,
    current: () => child,
    start: async (options) => {
      if (child) throw new Error(`${name} is already running`);
      const started = startManagedProcess({
        name,
        command: process.execPath,
        args: [resolve("services/main.ts")],
        env: { ...parameters.env, WORKER_HOST: host, HTTP_HOST: host, WORKER_PORT: String(ports.endpoint), OPS_PORT: String(ports.ops) },
        output: logFile,
      });
      child = started;
      void started.exited.then(() => {
        if (child === started) child = undefined;
      });
      await waitFor(
        `${name} to be ready (log: ${logFile})`,
        async () => (await fetch(`${opsUrl}/health/ready`, { signal: AbortSignal.timeout(1_000) })).status === 200,
        { timeoutMs: options?.timeoutMs ?? 90_000, intervalMs: 100, abort: started.exited.then((e) => `exited with ${e.code ?? e.signal}`) },
      );
    },
    kill: async () => {
      const running = child;
      if (!running) return;
      running.kill("SIGKILL");
      await running.exited;
    },
    stop: async () => {
      await child?.stop({ graceMs: 10_000 });
    },
  };
}
