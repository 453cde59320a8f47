/**
 * Starts the real anvil from npm as an owned child process and waits until it answers JSON-RPC.
 * With `stateFile`, the chain is loaded from and saved to that file, so a restart keeps it.
 */
import { toHex, type Hex } from "viem";
import { mnemonicToAccount } from "viem/accounts";
import { anvilBinary } from "./binaries.ts";
import { startManagedProcess, type ManagedProcess } from "./managed-process.ts";
import { waitFor } from "./wait-for.ts";

export type StartAnvilParameters = {
  port: number;
  host?: string;
  chainId?: number;
  logFile: string | "inherit";
  stateFile?: string;
  /** Seconds between blocks; without it every transaction is mined at once (automine). */
  blockTime?: number;
  startTimeoutMs?: number;
};

export type RunningAnvil = { rpcUrl: string; chainId: number; process: ManagedProcess; stop(): Promise<void> };

export const ANVIL_DEFAULT_MNEMONIC = "test test test test test test test test test test test junk";

/** The private keys anvil funds at start (its well-known development mnemonic), derived, not stored. */
export function anvilDevelopmentKeys(count: number): Hex[] {
  return Array.from({ length: count }, (_, addressIndex) => {
    const key = mnemonicToAccount(ANVIL_DEFAULT_MNEMONIC, { addressIndex }).getHdKey().privateKey;
    if (!key) throw new Error("could not derive an anvil development key");
    return toHex(key);
  });
}

export async function startAnvil(parameters: StartAnvilParameters): Promise<RunningAnvil> {
  const host = parameters.host ?? "127.0.0.1";
  const chainId = parameters.chainId ?? 31337;
  const args = ["--host", host, "--port", String(parameters.port), "--chain-id", String(chainId), "--silent"];
  if (parameters.stateFile) args.push("--state", parameters.stateFile);
  if (parameters.blockTime !== undefined) args.push("--block-time", String(parameters.blockTime));
  const child = startManagedProcess({ name: "anvil", command: anvilBinary(), args, output: parameters.logFile });
  const rpcUrl = `http://${host}:${parameters.port}`;
  try {
    await waitFor(
      "anvil to answer eth_chainId",
      async () => {
        const response = await fetch(rpcUrl, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
          signal: AbortSignal.timeout(1_000),
        });
        const body = (await response.json()) as { result?: string };
        return body.result !== undefined && Number.parseInt(body.result, 16) === chainId;
      },
      { timeoutMs: parameters.startTimeoutMs ?? 30_000, intervalMs: 100, abort: child.exited.then((e) => `exited with ${e.code ?? e.signal}`) },
    );
  } catch (error) {
    await child.stop({ graceMs: 2_000 });
    throw error;
  }
  // anvil writes its state file on SIGTERM/SIGINT; give it time to do so.
  return { rpcUrl, chainId, process: child, stop: () => child.stop({ graceMs: 10_000 }) };
}
