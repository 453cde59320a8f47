/** What the `npm start` demos share: the local chain's definition, and setting a demo up only once. */
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { defineChain, type Chain } from "viem";

export function localChain(chainId: number, rpcUrl: string): Chain {
  return defineChain({ id: chainId, name: "anvil", nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 }, rpcUrls: { default: { http: [rpcUrl] } } });
}

/** Runs `create` once: its result is kept in `stateFile`, and a later start reads it back. */
export async function setUpOnce<T>(stateFile: string, create: () => Promise<T>): Promise<{ demo: T; created: boolean }> {
  if (existsSync(stateFile)) return { demo: JSON.parse(await readFile(stateFile, "utf8")) as T, created: false };
  const demo = await create();
  await writeFile(stateFile, JSON.stringify(demo, null, 2));
  return { demo, created: true };
}
