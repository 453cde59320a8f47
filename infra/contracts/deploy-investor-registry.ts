/**
 * Deploys an IdentityRegistry for asset issuance (anvil in tests and in the demo), with `agent` as
 * its agent, and manages its investors: an identity with a jurisdiction, or none.
 */
import { keccak256, toHex, type Chain, type Hex } from "viem";
import { createContractWriter } from "./contract-writer.ts";

export async function deployInvestorRegistry(parameters: { rpcUrl: string; chain: Chain; agentPrivateKey: Hex }) {
  const writer = createContractWriter({ rpcUrl: parameters.rpcUrl, chain: parameters.chain, privateKey: parameters.agentPrivateKey });
  const registry = await writer.deploy("IdentityRegistry", [writer.account.address]);
  return {
    registry,
    agent: writer.account.address,
    /** Gives `wallet` a verified identity in jurisdiction `country` (ISO 3166-1 numeric). */
    registerInvestor: async (wallet: Hex, country: number) => {
      await writer.send("IdentityRegistry", registry, "registerIdentity", [wallet, keccak256(toHex(`identity:${wallet.toLowerCase()}`))]);
      await writer.send("IdentityRegistry", registry, "setCountry", [wallet, country]);
    },
    /** Takes the identity away: the wallet is no longer verified. */
    removeInvestor: (wallet: Hex, options?: { wait?: boolean }) => writer.send("IdentityRegistry", registry, "removeIdentity", [wallet], options),
  };
}

export type InvestorRegistry = Awaited<ReturnType<typeof deployInvestorRegistry>>;
