/**
 * The asset-issuance demo `npm start` runs on its own anvil: an identity registry (its agent the
 * second dev signer) with three investors in three jurisdictions, and an issuance to them by the
 * third dev signer through the worker. `npm run demo:issuance -- <issuanceId>` watches it.
 */
import type { Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from "viem/accounts";
import type { Database } from "../../shared/db/client.ts";
import { createAssetIssuanceClient, newIssuanceId } from "../../services/workflows/asset-issuance/client.ts";
import { deployInvestorRegistry } from "../contracts/deploy-investor-registry.ts";
import { localChain, setUpOnce } from "./demo-setup.ts";

export type IssuanceDemo = { issuanceId: string; registry: Hex; investors: Hex[] };

const JURISDICTIONS = [56, 276, 528]; // Belgium, Germany, the Netherlands

export async function setUpIssuanceDemo(parameters: {
  stateFile: string;
  rpcUrl: string;
  chainId: number;
  registryAgentPrivateKey: Hex;
  issuerPrivateKey: Hex;
  db: Database;
  ingressUrl: string;
}): Promise<{ demo: IssuanceDemo; created: boolean }> {
  return setUpOnce(parameters.stateFile, async (): Promise<IssuanceDemo> => {
    const chain = localChain(parameters.chainId, parameters.rpcUrl);
    const registry = await deployInvestorRegistry({ rpcUrl: parameters.rpcUrl, chain, agentPrivateKey: parameters.registryAgentPrivateKey });
    const investors = JURISDICTIONS.map(() => privateKeyToAccount(generatePrivateKey()).address);
    for (const [index, investor] of investors.entries()) await registry.registerInvestor(investor, JURISDICTIONS[index]!);

    const issuanceId = newIssuanceId();
    await createAssetIssuanceClient({ db: parameters.db, ingressUrl: parameters.ingressUrl }).submitIssuance(issuanceId, {
      organizationId: "demo",
      chainId: parameters.chainId,
      identityRegistry: registry.registry,
      issuer: { signerAddress: privateKeyToAddress(parameters.issuerPrivateKey), executor: { route: "eoa" } },
      token: { name: "Demo Harbour Bond 2031", symbol: "DHB31", decimals: 6 },
      allocations: investors.map((investor, index) => ({ investor, amount: String((index + 1) * 250_000_000) })),
      compliance: { maxHolders: 100, allowedJurisdictions: JURISDICTIONS },
    });
    return { issuanceId, registry: registry.registry, investors };
  });
}
