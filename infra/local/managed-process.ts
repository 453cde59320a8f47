/**
 * A child process this project started and owns: output goes to a log file, and it is stopped by
 * its own PID (SIGTERM, then SIGKILL after a grace period), never by name.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { dirname } from "node:path";

export type ManagedProcess = {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (or signal) when the process ends, for whatever reason. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(options?: { graceMs?: number }): Promise<void>;
  kill(signal: NodeJS.Signals): void;
};

export type StartManagedProcessParameters = {
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Where stdout and stderr are appended; `inherit` passes them through. */
  output: string | "inherit";
};

export function startManagedProcess(parameters: StartManagedProcessParameters): ManagedProcess {
  const inherit = parameters.output === "inherit";
  const child = spawn(parameters.command, parameters.args, {
    cwd: parameters.cwd,
    env: { ...process.env, ...parameters.env },
    stdio: inherit ? "inherit" : ["ignore", "pipe", "pipe"],
  });
  if (!inherit) {
    mkdirSync(dirname(parameters.output), { recursive: true });
    const log = createWriteStream(parameters.output, { flags: "a" });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
  }
  if (child.pid === undefined) throw new Error(`${parameters.name}: could not start ${parameters.command}`);
  const pid = child.pid;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  let finished = false;
  void exited.then(() => {
    finished = true;
  });
  return {
    name: parameters.name,
    pid,
    child,
    exited,
    kill: (signal) => {
      if (!finished) process.kill(pid, signal);
    },
    stop: async (options) => {
      if (finished) return;
      process.kill(pid, "SIGTERM");
      const graceful = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), options?.graceMs ?? 10_000).unref()),
      ]);
      if (!graceful && !finished) {
        process.kill(pid, "SIGKILL");
        await exited;
      }
    },
  };
}
