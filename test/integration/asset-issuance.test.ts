import { type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { compiledContract } from "../../infra/contracts/compile.ts";
import { createContractWriter } from "../../infra/contracts/contract-writer.ts";
import { deployInvestorRegistry } from "../../infra/contracts/deploy-investor-registry.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { getAssetIssuance } from "../../shared/db/repositories/asset-issuances.ts";
import { getDeadLetter } from "../../shared/db/repositories/dead-letters.ts";
import { ISSUANCE_EVENT_TYPES } from "../../services/workflows/asset-issuance/api.ts";
import type { IssuanceStatus } from "../../services/workflows/asset-issuance/api.ts";
import { createAssetIssuanceClient, newIssuanceId, type AssetIssuanceClient } from "../../services/workflows/asset-issuance/client.ts";
import type { IssuanceRequestInput } from "../../services/workflows/asset-issuance/request.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";
import type { WebhookReceiver } from "../helpers/webhook-receiver.ts";
import { subscribeWebhookReceiver, type WebhookSubscriber } from "../helpers/webhook-subscriber.ts";

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
  let webhooks: WebhookSubscriber;
  const issuer = () => h.senders[0]!;

  beforeAll(async () => {
    h = await startTransactionHarness({ senders: 1, name: "issuance-worker" });
    issuances = createAssetIssuanceClient({ db: h.db, ingressUrl: h.stack.restateIngressUrl });
    webhooks = await subscribeWebhookReceiver(h.db, [...ISSUANCE_EVENT_TYPES]);
    receiver = webhooks.receiver;
  });
  afterEach(async () => {
    await h.tools.client.setAutomine(true);
  });
  afterAll(async () => {
    await webhooks.close();
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
    const fromNonce = await h.tools.client.getTransactionCount({ address: issuer().address, blockTag: "latest" });
    return { registry, investors, admin, request, fromBlock, fromNonce, issuanceId: newIssuanceId() };
  }

  const read = async (address: Hex, contract: string, functionName: string, args: unknown[] = []) => {
    const { abi } = await compiledContract(contract);
    return h.tools.client.readContract({ address, abi, functionName, args });
  };
  const eventsOf = (issuanceId: string) => receiver.accepted().filter((r) => (r.body.data as { issuanceId?: string }).issuanceId === issuanceId);

  /** What a completed issuance leaves on chain and in webhooks, with or without crashes on the way. */
  async function expectIssued(setup: Awaited<ReturnType<typeof setUp>>, final: IssuanceStatus) {
    const { registry, investors, fromBlock, issuanceId } = setup;
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
    expect(await Promise.all(investors.map((investor) => read(token, "AssetToken", "balanceOf", [investor])))).toEqual([1_000_000n, 2_000_000n, 3_000_000n]);
    expect(await read(token, "AssetToken", "holderCount")).toBe(3n);
    expect(await read(registry.registry, "IdentityRegistry", "isRegisteredToken", [token])).toBe(true);
    // Each step once on chain, in order (the creation first), at consecutive nonces.
    const mined = await h.tools.minedTransactionsOf(issuer().address, fromBlock);
    expect(mined.map((tx) => tx.hash)).toEqual(final.steps.map((s) => s.txHash));
    expect(mined[0]?.to).toBeNull();
    expect(mined.map((tx) => tx.nonce - mined[0]!.nonce)).toEqual([0, 1, 2, 3, 4, 5]);
    expect((await getAssetIssuance(h.db, issuanceId))?.stage).toBe("completed");

    const distinctEvents = () => [...new Map(eventsOf(issuanceId).map((e) => [e.id, e])).values()];
    await waitFor("every issuance event", async () => distinctEvents().length === 10);
    expect(distinctEvents().map((e) => e.type).sort()).toEqual(
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
    const notices = distinctEvents().filter((e) => e.type === "asset-issuance.investor-notice").map((e) => e.body.data as Record<string, unknown>);
    expect(notices.map((n) => [n.investor, n.outcome, n.minted]).sort()).toEqual(investors.map((investor) => [investor, "issued", true]).sort());
  }

  it("deploys the token, sets its compliance rules, mints every allocation, registers it and tells everyone", async () => {
    const setup = await setUp();
    await issuances.submitIssuance(setup.issuanceId, setup.request);
    await expectIssued(setup, await issuances.waitForIssuance(setup.issuanceId));
  });

  it("refuses through ingress a request that fails its schema, naming the field", async () => {
    const request = {
      organizationId: h.organizationId,
      chainId: h.stack.chainId,
      identityRegistry: issuer().address,
      issuer: { signerAddress: issuer().address, executor: { route: "eoa" } },
      token: { name: "Bond", symbol: "BND", decimals: 0 },
      allocations: [{ investor: "0x1234", amount: "1" }],
      compliance: { maxHolders: 1, allowedJurisdictions: [56] },
    };
    const answer = await fetch(`${h.stack.restateIngressUrl}/AssetIssuanceWorkflow/${newIssuanceId()}/run`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(request),
    });
    expect(answer.status).toBe(400);
    expect(await answer.text()).toMatch(/allocations\/0\/investor.*must be a 20-byte hex address/);
  });

  it("ends failed before deploying anything when an investor is not eligible", async () => {
    const { registry, investors, request, fromBlock, issuanceId } = await setUp();
    await registry.removeInvestor(investors[2]!);
    await issuances.submitIssuance(issuanceId, request);
    const final = await issuances.waitForIssuance(issuanceId);

    expect(final).toMatchObject({ stage: "failed", tokenAddress: null, steps: [], error: { code: "INVESTOR_NOT_ELIGIBLE" } });
    expect(final.error?.message).toContain(`${investors[2]} has no verified identity`);
    expect(await h.tools.minedTransactionsOf(issuer().address, fromBlock)).toEqual([]);
    expect((await getAssetIssuance(h.db, issuanceId))?.stage).toBe("failed");
  });

  it("pauses the token and notifies investors and issuer when an investor loses eligibility between the check and the mint", async () => {
    const { registry, investors, request, fromBlock, issuanceId } = await setUp();
    await h.tools.client.setAutomine(false);
    await issuances.submitIssuance(issuanceId, request);
    // The eligibility check is behind us once the deployment waits to be mined; the registry
    // changes in that same block.
    await waitFor("the deployment to be broadcast", async () => (await h.client.getTransactionStatus(`${issuanceId}-deploy`))?.phase === "confirming");
    await registry.removeInvestor(investors[1]!, { wait: false });
    await h.tools.client.mine({ blocks: 1 });
    await h.tools.client.setAutomine(true);
    const final = await issuances.waitForIssuance(issuanceId);

    expect(final.stage).toBe("failed-compensated");
    expect(final.steps.map((s) => [s.step, s.outcome])).toEqual([
      ["deploy", "completed"],
      ["compliance", "completed"],
      ["mint-0", "completed"],
      ["mint-1", "failed"],
      ["pause", "completed"],
    ]);
    expect(final.steps[3]?.error).toEqual({ code: "EXECUTION_REVERTED", message: expect.stringContaining("compliance: receiver not verified") });
    expect(final.compensation).toEqual({ kind: "compensated", compensated: ["pause"] });
    expect(final.error?.code).toBe("EXECUTION_REVERTED");
    const token = final.tokenAddress!;
    expect(await read(token, "AssetToken", "paused")).toBe(true);
    expect(await Promise.all(investors.map((investor) => read(token, "AssetToken", "balanceOf", [investor])))).toEqual([1_000_000n, 0n, 0n]);
    // deploy, compliance, mint-0 and the pause; mint-1 was refused before it was signed.
    expect((await h.tools.minedTransactionsOf(issuer().address, fromBlock)).map((tx) => tx.hash)).toEqual(
      final.steps.filter((s) => s.outcome === "completed").map((s) => s.txHash),
    );
    expect((await getAssetIssuance(h.db, issuanceId))?.stage).toBe("failed-compensated");

    await waitFor("the stage events and the four notices", async () => eventsOf(issuanceId).length === 10);
    const notices = eventsOf(issuanceId).filter((e) => e.type.endsWith("-notice")).map((e) => e.body.data as Record<string, unknown>);
    expect(notices.filter((n) => n.investor).map((n) => [n.investor, n.outcome, n.minted]).sort()).toEqual(
      [
        [investors[0], "compensated", true],
        [investors[1], "compensated", false],
        [investors[2], "compensated", false],
      ].sort(),
    );
    expect(notices.find((n) => n.issuer)).toMatchObject({ issuer: issuer().address, outcome: "compensated", tokenAddress: token });
    expect(eventsOf(issuanceId).map((e) => e.type)).toContain("asset-issuance.compensating");
  });

  it("ends failed-needs-operator with a dead letter when the pause fails too, the agent role having been revoked", async () => {
    const { admin, investors, request, fromBlock, issuanceId } = await setUp();
    await h.tools.client.setAutomine(false);
    await issuances.submitIssuance(issuanceId, request);
    await waitFor("the deployment to be broadcast", async () => (await h.client.getTransactionStatus(`${issuanceId}-deploy`))?.phase === "confirming");
    await h.tools.client.mine({ blocks: 1 });
    await waitFor("the compliance rules to be broadcast", async () => (await h.client.getTransactionStatus(`${issuanceId}-compliance`))?.phase === "confirming");
    // The admin revokes the issuer's agent role in the compliance rules' block, after them: anvil
    // orders a block by fees, and this one offers the least it may (the base fee, no tip). Then the
    // first mint and the pause are refused.
    const token = (await issuances.getIssuanceStatus(issuanceId)).tokenAddress!;
    const { baseFeePerGas } = await h.tools.client.getBlock({ blockTag: "latest" });
    const revocation = await createContractWriter({ rpcUrl: h.stack.chainRpcUrl, chain: h.tools.chain, privateKey: admin.privateKey }).send(
      "AssetToken",
      token,
      "removeAgent",
      [issuer().address],
      { wait: false, fees: { maxFeePerGas: baseFeePerGas!, maxPriorityFeePerGas: 0n } },
    );
    await h.tools.client.mine({ blocks: 1 });
    await h.tools.client.setAutomine(true);
    const block = await h.tools.client.getBlock({ includeTransactions: true, blockTag: "latest" });
    expect(block.transactions.map((tx) => tx.hash)).toEqual([(await h.client.getTransactionStatus(`${issuanceId}-compliance`))?.txHash, revocation]);
    const final = await issuances.waitForIssuance(issuanceId);

    expect(final.stage).toBe("failed-needs-operator");
    expect(final.steps.map((s) => [s.step, s.outcome])).toEqual([
      ["deploy", "completed"],
      ["compliance", "completed"],
      ["mint-0", "failed"],
      ["pause", "failed"],
    ]);
    expect(final.compensation).toMatchObject({ kind: "needs-operator", compensated: [], failed: { step: "pause" }, remaining: [] });
    expect(await read(token, "AssetToken", "paused")).toBe(false);
    expect(await read(token, "AssetToken", "totalSupply")).toBe(0n);
    expect((await h.tools.minedTransactionsOf(issuer().address, fromBlock)).map((tx) => tx.hash)).toEqual(final.steps.slice(0, 2).map((s) => s.txHash));

    const letter = await getDeadLetter(h.db, `dl_issuance_${issuanceId}`);
    expect(letter).toMatchObject({ kind: "asset-issuance", referenceId: issuanceId, status: "open", causeCode: "COMPENSATION_FAILED" });
    expect(letter?.payload).toMatchObject({
      tokenAddress: token,
      done: [
        { step: "deploy", txHash: final.steps[0]?.txHash },
        { step: "compliance", txHash: final.steps[1]?.txHash },
      ],
      failed: [{ step: "mint-0" }, { step: "pause" }],
      notRun: ["mint-1", "mint-2", "register"],
      left: [expect.stringContaining(`pause token ${token}`)],
    });
    await waitFor("the notices", async () => eventsOf(issuanceId).filter((e) => e.type.endsWith("-notice")).length === 4);
    expect(eventsOf(issuanceId).filter((e) => e.type === "asset-issuance.investor-notice").map((e) => (e.body.data as { investor: string }).investor).sort()).toEqual(
      [...investors].sort(),
    );
    expect(eventsOf(issuanceId).every((e) => !e.type.endsWith("-notice") || (e.body.data as { outcome: string }).outcome === "needs-operator")).toBe(true);
  });

  it("runs an issuance once when its id is submitted twice, and refuses the id for another request", async () => {
    const { request, fromBlock, issuanceId } = await setUp();
    const [first, second] = await Promise.all([issuances.submitIssuance(issuanceId, request), issuances.submitIssuance(issuanceId, request)]);
    expect(second.invocationId).toBe(first.invocationId);
    const final = await issuances.waitForIssuance(issuanceId);
    expect(final.stage).toBe("completed");
    expect(await issuances.submitIssuance(issuanceId, request)).toMatchObject({ invocationId: first.invocationId, attached: true });

    const mined = await h.tools.minedTransactionsOf(issuer().address, fromBlock);
    expect(mined.map((tx) => tx.hash)).toEqual(final.steps.map((s) => s.txHash));
    expect(mined.filter((tx) => tx.to === null)).toHaveLength(1);
    await expect(issuances.submitIssuance(issuanceId, { ...request, token: { name: "Other", symbol: "OTH", decimals: 0 } })).rejects.toMatchObject({
      code: "ISSUANCE_ID_REUSED",
    });
  });

  it("puts every transaction on chain once and ends the same way when the worker is SIGKILLed at random moments", async () => {
    const setup = await setUp();
    await issuances.submitIssuance(setup.issuanceId, setup.request);
    // Up to four crashes at random moments of the run: the first soon after the submission, each
    // later one a random moment after the issuer's next transaction is mined, so that they spread
    // over the steps (each delay and what it hit are logged, to replay a failure).
    const minedCount = () => h.tools.client.getTransactionCount({ address: issuer().address, blockTag: "latest" });
    const stage = async () => (await getAssetIssuance(h.db, setup.issuanceId))?.stage; // the workflow's status handler would wait for a worker
    const crashes: string[] = [];
    let seen = await minedCount();
    for (let crash = 0; crash < 4; crash++) {
      if (crash > 0) await waitFor("the issuance to move on", async () => (await minedCount()) > seen || (await stage()) === "completed");
      const delay = Math.floor(Math.random() * 300);
      await new Promise((resolve) => setTimeout(resolve, delay));
      const at = await stage();
      if (at === "completed") break;
      seen = await minedCount();
      await h.worker.crash();
      crashes.push(`${delay} ms after ${seen - setup.fromNonce} transaction(s), ${at}`);
      await h.worker.start();
    }
    console.log("crashes:", crashes.join("; "));
    expect(crashes.length).toBeGreaterThan(0);
    await expectIssued(setup, await issuances.waitForIssuance(setup.issuanceId, { timeoutMs: 110_000 }));
  });
});
