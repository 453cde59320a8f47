/**
 * The smart-wallet route of `npm start`. With BUNDLER_URL set, that bundler is used as it is. On
 * its own chain, npm start puts EntryPoint v0.7 and the Safe 4337 contracts on anvil (once: they are
 * found again in its saved state) and starts alto against it as a child it owns, paid by anvil
 * accounts 6 (deployments, alto's utility account) and 7 (alto's bundles). On a configured chain
 * without BUNDLER_URL the route stays off.
 */
import { join } from "node:path";
import type { Config } from "../../shared/config.ts";
import { startAlto } from "./alto.ts";
import { anvilDevelopmentKeys } from "./anvil.ts";
import { deployErc4337Contracts } from "./erc4337-contracts.ts";
import { freePort } from "./free-port.ts";
import { say, stopAllWhenItExits, type OwnedChildren } from "./launcher-parts.ts";

export type LocalSmartWallet = { env: Record<string, string>; lines: string[] };

export async function prepareLocalSmartWallet(
  config: Config,
  parameters: { chainRpcUrl: string; ownChain: boolean; logDir: string; children: OwnedChildren },
): Promise<LocalSmartWallet> {
  if (config.BUNDLER_URL) return { env: {}, lines: [`  Smart-wallet route  bundler ${config.BUNDLER_URL} as configured`] };
  if (!parameters.ownChain) return { env: {}, lines: ["  Smart-wallet route  off (set BUNDLER_URL to an ERC-4337 bundler for this chain to turn it on)"] };
  const keys = anvilDevelopmentKeys(8);
  const deployed = await deployErc4337Contracts({ rpcUrl: parameters.chainRpcUrl, deployerKey: keys[6]! });
  say(`ddwf: starting alto (ERC-4337 bundler; ${deployed.length > 0 ? `deployed ${deployed.join(", ")}` : "contracts found on the chain"})`);
  const alto = await startAlto({ rpcUrl: parameters.chainRpcUrl, port: await freePort(), executorKeys: [keys[7]!], utilityKey: keys[6]!, logFile: join(parameters.logDir, "alto.log") });
  parameters.children.add({ name: "alto", stop: alto.stop });
  stopAllWhenItExits(alto.process, parameters.children);
  return { env: { BUNDLER_URL: alto.url }, lines: [`  Smart-wallet route  alto at ${alto.url} (EntryPoint v0.7, Safe 4337 module 0.3.0 on this chain)`] };
}
