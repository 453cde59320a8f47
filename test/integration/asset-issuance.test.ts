import { type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { compiledContract } from "../../infra/contracts/compile.ts";
import { deployInvestorRegistry } from "../../infra/contracts/deploy-investor-registry.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { createWebhookSubscription, updateWebhookSubscription } from "../../shared/db/repositories/webhooks.ts";
import { generateWebhookSecret } from "../../shared/webhooks/standard-webhooks.ts";
import { ISSUANCE_EVENT_TYPES } from "../../services/workflows/asset-issuance/api.ts";
import { createAssetIssuanceClient, newIssuanceId, type AssetIssuanceClient } from "../../services/workflows/asset-issuance/client.ts";
import type { IssuanceRequestInput } from "../../services/workflows/asset-issuance/request.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../helpers/webhook-receiver.ts";

const BELGIUM = 56;
const GERMANY = 276;
const NETHERLANDS = 528;

/**
 * Each test deploys its own identity registry (its agent a key of the test, not the worker's) with
 * its own investors; the worker's one signer is the issuer, so what it sends is the issuance's.
 */
describe("AssetIssuanceWorkflow", () => {
  let h: TransactionHarness;
  let issuances: AssetIssuanceClient;
  let receiver: WebhookReceiver;
  let subscriptionId: string;
  const issuer = () => h.senders[0]!;

  beforeAll(async () => {
    h = await startTransactionHarness({ senders: 1, name: "issuance-worker" });
    issuances = createAssetIssuanceClient({ db: h.db, ingressUrl: h.stack.restateIngressUrl });
    const secret = generateWebhookSecret();
    receiver = await startWebhookReceiver([secret]);
    subscriptionId = `sub_${crypto.randomUUID().replaceAll("-", "")}`;
    await createWebhookSubscription(h.db, {
      id: subscriptionId,
      url: receiver.url,
      eventTypes: [...ISSUANCE_EVENT_TYPES],
      secrets: [{ secret, createdAt: new Date().toISOString() }],
    });
  });
  afterEach(async () => {
    await h.tools.client.setAutomine(true);
  });
  afterAll(async () => {
    await updateWebhookSubscription(h.db, subscriptionId, { enabled: false });
    await receiver.close();
    await h.stop();
  });

  async function setUp() {
    const registryAgent = await h.tools.newSender();
    const registry = await deployInvestorRegistry({ rpcUrl: h.stack.chainRpcUrl, chain: h.tools.chain, agentPrivateKey: registryAgent.privateKey });
    const investors = [BELGIUM, GERMANY, NETHERLANDS].map(() => privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as Hex);
    for (const [index, investor] of investors.entries()) await registry.registerInvestor(investor, [BELGIUM, GERMANY, NETHERLANDS][index]!);
    const admin = await h.tools.newSender();
    const request: IssuanceRequestInput = {
      organizationId: h.organizationId,
      chainId: h.stack.chainId,
      identityRegistry: registry.registry,
      issuer: { signerAddress: issuer().address, executor: { route: "eoa" } },
      tokenAdmin: admin.address,
      token: { name: "Harbour Bond 2031", symbol: "HB31", decimals: 6 },
      allocations: investors.map((investor, index) => ({ investor, amount: String((index + 1) * 1_000_000) })),
      compliance: { maxHolders: 5, allowedJurisdictions: [BELGIUM, GERMANY, NETHERLANDS] },
    };
    const fromBlock = (await h.tools.client.getBlockNumber()) + 1n;
    return { registry, investors, admin, request, fromBlock, issuanceId: newIssuanceId() };
  }

  const read = async (address: Hex, contract: string, functionName: string, args: unknown[] = []) => {
    const { abi } = await compiledContract(contract);
    return h.tools.client.readContract({ address, abi, functionName, args });
  };
  const eventsOf = (issuanceId: string) => receiver.accepted().filter((r) => (r.body.data as { issuanceId?: string }).issuanceId === issuanceId);

  it("deploys the token, sets its compliance rules, mints every allocation, registers it and tells everyone", async () => {
    const { registry, investors, request, fromBlock, issuanceId } = await setUp();
    await issuances.submitIssuance(issuanceId, request);
    const final = await issuances.waitForIssuance(issuanceId);

    expect(final.stage).toBe("completed");
    expect(final.steps.map((s) => [s.step, s.outcome])).toEqual([
      ["deploy", "completed"],
      ["compliance", "completed"],
      ["mint-0", "completed"],
      ["mint-1", "completed"],
      ["mint-2", "completed"],
      ["register", "completed"],
    ]);
    const token = final.tokenAddress!;
    expect(await read(token, "AssetToken", "symbol")).toBe("HB31");
    expect(await read(token, "AssetToken", "decimals")).toBe(6);
    expect(await read(token, "AssetToken", "isAgent", [issuer().address])).toBe(true);
    expect(await read(final.complianceAddress!, "TokenCompliance", "maxHolders")).toBe(5n);
    expect(await read(final.complianceAddress!, "TokenCompliance", "allowedJurisdictions")).toEqual([BELGIUM, GERMANY, NETHERLANDS]);
    for (const [index, investor] of investors.entries()) {
      expect(await read(token, "AssetToken", "balanceOf", [investor])).toBe(BigInt((index + 1) * 1_000_000));
    }
    expect(await read(token, "AssetToken", "holderCount")).toBe(3n);
    expect(await read(registry.registry, "IdentityRegistry", "isRegisteredToken", [token])).toBe(true);
    // One transaction per step, in order: the creation, then the calls.
    const mined = await h.tools.minedTransactionsOf(issuer().address, fromBlock);
    expect(mined.map((tx) => tx.hash)).toEqual(final.steps.map((s) => s.txHash));
    expect(mined[0]?.to).toBeNull();

    await waitFor("every issuance event", async () => eventsOf(issuanceId).length === 10);
    expect(eventsOf(issuanceId).map((e) => e.type).sort()).toEqual(
      [
        "asset-issuance.checking-eligibility",
        "asset-issuance.deploying",
        "asset-issuance.configuring-compliance",
        "asset-issuance.minting",
        "asset-issuance.registering",
        "asset-issuance.completed",
        "asset-issuance.investor-notice",
        "asset-issuance.investor-notice",
        "asset-issuance.investor-notice",
        "asset-issuance.issuer-notice",
      ].sort(),
    );
    const notices = eventsOf(issuanceId).filter((e) => e.type === "asset-issuance.investor-notice").map((e) => e.body.data as Record<string, unknown>);
    expect(notices.map((n) => [n.investor, n.outcome, n.minted]).sort()).toEqual(investors.map((investor) => [investor, "issued", true]).sort());
  });
});
