/**
 * Starts Pimlico's alto bundler from npm as an owned child process against a chain that has
 * EntryPoint v0.7, and waits until it answers `eth_supportedEntryPoints`. It is stopped by its PID
 * (SIGTERM, then SIGKILL). Alto's mempool limits stay at their defaults: a second operation of an
 * account while one is still queued is refused, which ddwf reports as BLOCKED_BY_QUEUE.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Hex } from "viem";
import { ENTRY_POINT_V07 } from "../../shared/evm/erc4337/safe-account.ts";
import { startManagedProcess, type ManagedProcess } from "./managed-process.ts";
import { waitFor } from "./wait-for.ts";

const require = createRequire(import.meta.url);

export type StartAltoParameters = {
  rpcUrl: string;
  port: number;
  /** Funded key(s) that send the bundles. */
  executorKeys: Hex[];
  /** Funded key that deploys alto's simulation contract and refills executors. */
  utilityKey: Hex;
  logFile: string | "inherit";
  /** `manual` bundles only when asked (`debug_bundler_sendBundleNow`, debug endpoints on). */
  bundleMode?: "auto" | "manual";
  extraArgs?: string[];
  startTimeoutMs?: number;
};

export type RunningAlto = { url: string; process: ManagedProcess; stop(): Promise<void> };

/** The script of alto's CLI inside node_modules (run with this Node, so the PID is alto's own). */
export function altoScript(): string {
  // The package exports only its library entry (esm/index.js); the CLI sits beside it.
  return join(dirname(require.resolve("@pimlico/alto")), "cli", "alto.js");
}

export function altoArguments(parameters: StartAltoParameters): string[] {
  return [
    "--entrypoints", ENTRY_POINT_V07,
    "--rpc-url", parameters.rpcUrl,
    "--port", String(parameters.port),
    "--executor-private-keys", parameters.executorKeys.join(","),
    "--utility-private-key", parameters.utilityKey,
    // anvil has no tracer for ERC-7562's opcode rules; the rest of validation stays on.
    "--safe-mode", "false",
    "--block-time", "500",
    "--bundle-mode", parameters.bundleMode ?? "auto",
    ...(parameters.bundleMode === "manual" ? ["--enable-debug-endpoints", "true"] : []),
    "--log-level", "info",
    // Every request and reply at info would fill the log; the mempool and executor modules stay at info.
    "--rpc-log-level", "warn",
    ...(parameters.extraArgs ?? []),
  ];
}

export async function startAlto(parameters: StartAltoParameters): Promise<RunningAlto> {
  const child = startManagedProcess({ name: "alto", command: process.execPath, args: [altoScript(), ...altoArguments(parameters)], output: parameters.logFile });
  const url = `http://127.0.0.1:${parameters.port}/rpc`;
  try {
    await waitFor(
      "alto to answer eth_supportedEntryPoints",
      async () => {
        const response = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_supportedEntryPoints", params: [] }),
          signal: AbortSignal.timeout(1_000),
        });
        const body = (await response.json()) as { result?: string[] };
        return body.result?.some((address) => address.toLowerCase() === ENTRY_POINT_V07.toLowerCase()) === true;
      },
      { timeoutMs: parameters.startTimeoutMs ?? 60_000, intervalMs: 250, abort: child.exited.then((e) => `exited with ${e.code ?? e.signal}`) },
    );
  } catch (error) {
    await child.stop({ graceMs: 2_000 });
    throw error;
  }
  return { url, process: child, stop: () => child.stop({ graceMs: 5_000 }) };
}
