/**
 * Runs the worker the way production does, as its own process (`node services/main.ts`), so a test
 * can SIGKILL it and start it again on the same ports. `startWorkerInProcess` runs the same code in
 * the test's process when nothing needs killing.
 */
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { freePort } from "../../infra/local/free-port.ts";
import { startManagedProcess, type ManagedProcess } from "../../infra/local/managed-process.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { loadConfig } from "../../shared/config.ts";
import { createLogger } from "../../shared/logger.ts";
import { startWorker, type RunningWorker } from "../../services/worker.ts";
import type { TestStack } from "./stack.ts";
import { TEST_WEBHOOK_SECRET_KEYS } from "./webhook-keys.ts";

export type WorkerEnvironment = Record<string, string>;

export async function workerEnvironment(stack: TestStack, databaseUrl: string, overrides?: WorkerEnvironment): Promise<WorkerEnvironment> {
  const [workerPort, opsPort] = await Promise.all([freePort(), freePort()]);
  return {
    RESTATE_INGRESS_URL: stack.restateIngressUrl,
    RESTATE_ADMIN_URL: stack.restateAdminUrl,
    CHAIN_RPC_URL: stack.chainRpcUrl,
    CHAIN_ID: String(stack.chainId),
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: "4",
    WORKER_PORT: String(workerPort),
    OPS_PORT: String(opsPort),
    LOG_LEVEL: "debug",
    // Recurring loops run only in the tests that are about them (they call runOnce themselves).
    RECONCILE_INTERVAL_MS: "0",
    // Webhook receivers of the tests listen on loopback over http.
    WEBHOOK_SECRET_KEYS: TEST_WEBHOOK_SECRET_KEYS,
    WEBHOOK_ALLOW_INSECURE_URLS: "true",
    // Only the test stack's Restate may call the worker.
    ...(stack.restateIdentity ? { RESTATE_IDENTITY_KEYS: stack.restateIdentity.publicKey } : {}),
    ...overrides,
  };
}

export type WorkerProcess = {
  env: WorkerEnvironment;
  opsUrl: string;
  endpointUrl: string;
  logFile: string;
  current(): ManagedProcess;
  /** Starts the process and waits for /health/ready. */
  start(): Promise<void>;
  /** SIGKILL: no shutdown code runs, as in a crash. */
  crash(): Promise<void>;
  stop(): Promise<void>;
};

export function createWorkerProcess(stack: TestStack, env: WorkerEnvironment, name = "worker"): WorkerProcess {
  const opsUrl = `http://127.0.0.1:${env.OPS_PORT}`;
  const logFile = join(stack.logDir, `${name}-${env.WORKER_PORT}.log`);
  let child: ManagedProcess | undefined;
  const worker: WorkerProcess = {
    env,
    opsUrl,
    endpointUrl: `http://127.0.0.1:${env.WORKER_PORT}`,
    logFile,
    current: () => {
      if (!child) throw new Error("worker not started");
      return child;
    },
    start: async () => {
      const started = startManagedProcess({
        name,
        command: process.execPath,
        args: [resolve("services/main.ts")],
        env: { ...env, NODE_ENV: "test" },
        output: logFile,
      });
      child = started;
      try {
        await waitFor(
          `worker ${name} to be ready (log: ${logFile})`,
          async () => {
            const response = await fetch(`${opsUrl}/health/ready`, { signal: AbortSignal.timeout(1_000) });
            if (response.status === 200) return true;
            // Not ready yet: what it still waits for explains a timeout better than an old "fetch failed".
            throw new Error(`/health/ready answered ${response.status} ${await response.text()}`);
          },
          { timeoutMs: 60_000, intervalMs: 100, abort: started.exited.then((e) => `exited with ${e.code ?? e.signal}`) },
        );
      } catch (error) {
        // CI keeps only the console: put the end of the worker's log into the failure.
        const tail = await readFile(logFile, "utf8").then((text) => text.trimEnd().split("\n").slice(-30).join("\n"), () => "(no log)");
        throw new Error(`${error instanceof Error ? error.message : String(error)}\nlast lines of the worker's log:\n${tail}`, { cause: error });
      }
    },
    crash: async () => {
      const running = worker.current();
      running.kill("SIGKILL");
      await running.exited;
    },
    stop: async () => {
      await child?.stop({ graceMs: 5_000 });
    },
  };
  return worker;
}

export async function startWorkerInProcess(env: WorkerEnvironment): Promise<RunningWorker> {
  const config = loadConfig(env);
  return startWorker(config, { logger: createLogger({ service: "ddwf-worker", level: "warn" }) });
}
