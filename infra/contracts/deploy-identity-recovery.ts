/**
 * Deploys the identity-recovery contracts to a chain (anvil in tests and in the demo) with `agent`
 * as the registry's and tokens' agent, and seeds an investor: an identity on a wallet and token
 * balances on it.
 */
import { createPublicClient, createWalletClient, http, keccak256, toHex, type Chain, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { compiledContract } from "./compile.ts";

export type DeployIdentityRecoveryParameters = {
  rpcUrl: string;
  chain: Chain;
  /** Deploys the contracts and becomes their agent. */
  agentPrivateKey: Hex;
  tokens: { name: string; symbol: string }[];
};

export async function deployIdentityRecoveryContracts(parameters: DeployIdentityRecoveryParameters) {
  const account = privateKeyToAccount(parameters.agentPrivateKey);
  const wallet = createWalletClient({ chain: parameters.chain, transport: http(parameters.rpcUrl), account });
  const client = createPublicClient({ chain: parameters.chain, transport: http(parameters.rpcUrl), cacheTime: 0 });
  const registryArtifact = await compiledContract("IdentityRegistry");
  const tokenArtifact = await compiledContract("PermissionedToken");

  const deploy = async (abi: typeof registryArtifact.abi, bytecode: Hex, args: unknown[]) => {
    const hash = await wallet.deployContract({ abi, bytecode, args });
    const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    if (!receipt.contractAddress) throw new Error("deployment produced no address");
    return receipt.contractAddress;
  };
  const send = async (to: Hex, abi: typeof registryArtifact.abi, functionName: string, args: unknown[]) => {
    const hash = await wallet.writeContract({ address: to, abi, functionName, args });
    const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    if (receipt.status !== "success") throw new Error(`${functionName} reverted`);
  };

  const registry = await deploy(registryArtifact.abi, registryArtifact.bytecode, [account.address]);
  const tokens: Hex[] = [];
  for (const token of parameters.tokens) {
    tokens.push(await deploy(tokenArtifact.abi, tokenArtifact.bytecode, [token.name, token.symbol, account.address, registry]));
  }

  return {
    agent: account.address,
    registry,
    tokens,
    /** Pauses token i: its transfers, forced ones included, revert from then on. */
    pauseToken: async (index: number) => {
      await send(tokens[index]!, tokenArtifact.abi, "setPaused", [true]);
    },
    /** Gives `wallet` an identity and mints `amounts[i]` of token i to it (tokens whose agent is ours). */
    seedInvestor: async (investor: Hex, amounts: bigint[]) => {
      await send(registry, registryArtifact.abi, "registerIdentity", [investor, keccak256(toHex(`identity:${investor.toLowerCase()}`))]);
      for (const [index, amount] of amounts.entries()) {
        if (amount > 0n) await send(tokens[index]!, tokenArtifact.abi, "mint", [investor, amount]);
      }
    },
  };
}
