/**
 * Deploys the identity-recovery contracts to a chain (anvil in tests and in the demo) with `agent`
 * as the registry's and tokens' agent, and seeds an investor: an identity on a wallet and token
 * balances on it.
 */
import { keccak256, toHex, type Chain, type Hex } from "viem";
import { createContractWriter } from "./contract-writer.ts";

export type DeployIdentityRecoveryParameters = {
  rpcUrl: string;
  chain: Chain;
  /** Deploys the contracts and becomes their agent. */
  agentPrivateKey: Hex;
  tokens: { name: string; symbol: string }[];
};

export async function deployIdentityRecoveryContracts(parameters: DeployIdentityRecoveryParameters) {
  const writer = createContractWriter({ rpcUrl: parameters.rpcUrl, chain: parameters.chain, privateKey: parameters.agentPrivateKey });
  const agent = writer.account.address;

  const registry = await writer.deploy("IdentityRegistry", [agent]);
  const tokens: Hex[] = [];
  for (const token of parameters.tokens) {
    tokens.push(await writer.deploy("PermissionedToken", [token.name, token.symbol, agent, registry]));
  }

  return {
    agent,
    registry,
    tokens,
    /** Pauses token i: its transfers, forced ones included, revert from then on. */
    pauseToken: async (index: number) => {
      await writer.send("PermissionedToken", tokens[index]!, "setPaused", [true]);
    },
    /** Gives `wallet` an identity and mints `amounts[i]` of token i to it (tokens whose agent is ours). */
    seedInvestor: async (investor: Hex, amounts: bigint[]) => {
      await writer.send("IdentityRegistry", registry, "registerIdentity", [investor, keccak256(toHex(`identity:${investor.toLowerCase()}`))]);
      for (const [index, amount] of amounts.entries()) {
        if (amount > 0n) await writer.send("PermissionedToken", tokens[index]!, "mint", [investor, amount]);
      }
    },
  };
}
