/**
 * The identity-recovery demo `npm start` sets up on its own anvil: contracts deployed with the first
 * dev signer as agent, an investor with an identity and two token balances, and an open invitation
 * for that investor. `npm run demo:accept -- <invitationId>` then plays the investor.
 */
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { parseEther, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { Database } from "../../shared/db/client.ts";
import { createIdentityRecoveryClient } from "../../services/workflows/identity-recovery/client.ts";
import { deployIdentityRecoveryContracts } from "../contracts/deploy-identity-recovery.ts";
import { localChain } from "./demo-setup.ts";

export type RecoveryDemo = { invitationId: string; registry: Hex; tokens: Hex[]; lostWallet: Hex };

export async function setUpRecoveryDemo(parameters: {
  stateFile: string;
  rpcUrl: string;
  chainId: number;
  agentPrivateKey: Hex;
  db: Database;
  ingressUrl: string;
}): Promise<{ demo: RecoveryDemo; created: boolean }> {
  if (existsSync(parameters.stateFile)) {
    return { demo: JSON.parse(await readFile(parameters.stateFile, "utf8")) as RecoveryDemo, created: false };
  }
  const chain = localChain(parameters.chainId, parameters.rpcUrl);
  const contracts = await deployIdentityRecoveryContracts({
    rpcUrl: parameters.rpcUrl,
    chain,
    agentPrivateKey: parameters.agentPrivateKey,
    tokens: [
      { name: "Demo Bond", symbol: "DBND" },
      { name: "Demo Fund", symbol: "DFND" },
    ],
  });
  const lostWallet = privateKeyToAccount(generatePrivateKey()).address;
  await contracts.seedInvestor(lostWallet, [parseEther("1000"), parseEther("25")]);
  const recovery = createIdentityRecoveryClient({ db: parameters.db, ingressUrl: parameters.ingressUrl });
  const { invitationId } = await recovery.openInvitation({
    organizationId: "demo",
    chainId: parameters.chainId,
    registryAddress: contracts.registry,
    lostWallet,
    tokens: contracts.tokens,
    agentAddress: contracts.agent,
    expiresAt: new Date(Date.now() + 7 * 24 * 3_600_000),
  });
  const demo: RecoveryDemo = { invitationId, registry: contracts.registry, tokens: contracts.tokens, lostWallet };
  await writeFile(parameters.stateFile, JSON.stringify(demo, null, 2));
  return { demo, created: true };
}
