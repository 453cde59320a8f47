/**
 * The ERC-4337 part of the test stack: EntryPoint v0.7 and the Safe 4337 contracts deployed on the
 * suite's anvil (infra/local/erc4337-contracts.ts), and a real alto bundler started against it on a
 * free port with freshly funded executor and utility keys. `stop` ends alto by its PID; `restart`
 * starts it again on the same port (a bundler outage in the middle of a test).
 */
import { join } from "node:path";
import { createTestClient, http, parseEther, publicActions, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import { startAlto, type RunningAlto } from "../../infra/local/alto.ts";
import { deployErc4337Contracts } from "../../infra/local/erc4337-contracts.ts";
import { freePort } from "../../infra/local/free-port.ts";
import type { TestStack } from "./stack.ts";

export type TestBundler = {
  url: string;
  port: number;
  pid(): number;
  stop(): Promise<void>;
  /** Starts alto again on the same port (after `stop`). */
  restart(): Promise<void>;
};

export async function startTestBundler(stack: TestStack, options?: { name?: string; bundleMode?: "auto" | "manual" }): Promise<TestBundler> {
  const client = createTestClient({ mode: "anvil", transport: http(stack.chainRpcUrl), cacheTime: 0 }).extend(publicActions);
  const [deployerKey, executorKey, utilityKey] = [generatePrivateKey(), generatePrivateKey(), generatePrivateKey()];
  for (const key of [deployerKey, executorKey, utilityKey]) await client.setBalance({ address: privateKeyToAddress(key), value: parseEther("1000") });
  await deployErc4337Contracts({ rpcUrl: stack.chainRpcUrl, deployerKey });
  const port = await freePort();
  const logFile = join(stack.logDir, `${options?.name ?? "alto"}.log`);
  const start = () => startAlto({ rpcUrl: stack.chainRpcUrl, port, executorKeys: [executorKey], utilityKey, logFile, bundleMode: options?.bundleMode ?? "auto" });
  let running: RunningAlto | null = await start();
  return {
    url: running.url,
    port,
    pid: () => running?.process.pid ?? 0,
    stop: async () => {
      await running?.stop();
      running = null;
    },
    restart: async () => {
      if (running) return;
      running = await start();
    },
  };
}

/** Sends a JSON-RPC call to the bundler (its debug methods in tests). */
export async function bundlerRpc<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
  const body = (await response.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

export type { Hex };
