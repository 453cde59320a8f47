/**
 * A child process that a drill can SIGKILL, stop and start again with the same command and
 * environment (a restate-server node, a worker replica), waiting each time until it serves.
 */
import { startManagedProcess, type ManagedProcess, type StartManagedProcessParameters } from "../local/managed-process.ts";
import { waitFor } from "../local/wait-for.ts";

export type RestartableProcess = {
  /** The running process, or undefined after a kill or stop. */
  current(): ManagedProcess | undefined;
  /** Starts the process (again) and waits until `serving` holds. */
  start(options?: { timeoutMs?: number }): Promise<void>;
  /** SIGKILL, as a crash: no shutdown code runs, nothing is flushed or handed over. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after the grace period. */
  stop(): Promise<void>;
};

export function createRestartableProcess(parameters: {
  process: StartManagedProcessParameters;
  /** What start waits for, e.g. a health check; its description names the log. */
  serving: { description: string; check: () => Promise<boolean>; intervalMs?: number };
  graceMs: number;
}): RestartableProcess {
  let child: ManagedProcess | undefined;
  return {
    current: () => child,
    start: async (options) => {
      if (child) throw new Error(`${parameters.process.name} is already running`);
      const started = startManagedProcess(parameters.process);
      child = started;
      void started.exited.then(() => {
        if (child === started) child = undefined;
      });
      await waitFor(parameters.serving.description, parameters.serving.check, {
        timeoutMs: options?.timeoutMs ?? 90_000,
        intervalMs: parameters.serving.intervalMs ?? 100,
        abort: started.exited.then((e) => `exited with ${e.code ?? e.signal}`),
      });
    },
    kill: async () => {
      const running = child;
      if (!running) return;
      running.kill("SIGKILL");
      await running.exited;
    },
    stop: async () => {
      await child?.stop({ graceMs: parameters.graceMs });
    },
  };
}
