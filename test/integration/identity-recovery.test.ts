import { parseEther, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { compiledContract } from "../../infra/contracts/compile.ts";
import { deployIdentityRecoveryContracts } from "../../infra/contracts/deploy-identity-recovery.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { acceptanceMessage } from "../../services/workflows/identity-recovery/api.ts";
import { createIdentityRecoveryClient, type IdentityRecoveryClient } from "../../services/workflows/identity-recovery/client.ts";
import { startDapiHarness } from "../helpers/dapi-harness.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";

/**
 * Each test gets its own contracts (registry + two tokens, the worker's signer as their agent) and
 * its own investor, so what is on chain afterwards belongs to that test alone.
 */
describe("IdentityRecoveryWorkflow", () => {
  let h: TransactionHarness;
  let recovery: IdentityRecoveryClient;
  const agent = () => h.senders[0]!;

  beforeAll(async () => {
    h = await startTransactionHarness({ senders: 1, name: "recovery-worker" });
    recovery = createIdentityRecoveryClient({ db: h.db, ingressUrl: h.stack.restateIngressUrl });
  });
  afterEach(async () => {
    await h.tools.client.setAutomine(true);
  });
  afterAll(async () => {
    await h.stop();
  });

  async function setUp(options?: { expiresInMs?: number; pauseSecondToken?: boolean }) {
    const contracts = await deployIdentityRecoveryContracts({
      rpcUrl: h.stack.chainRpcUrl,
      chain: h.tools.chain,
      agentPrivateKey: agent().privateKey,
      tokens: [
        { name: "Bond A", symbol: "BDA" },
        { name: "Bond B", symbol: "BDB" },
      ],
    });
    const lost = privateKeyToAccount(generatePrivateKey()).address;
    await contracts.seedInvestor(lost, [parseEther("100"), parseEther("7")]);
    if (options?.pauseSecondToken) await contracts.pauseToken(1);
    // Every transaction the agent sends from here on is ddwf's.
    const fromBlock = await h.tools.client.getBlockNumber();
    const organizationId = `org-${crypto.randomUUID().slice(0, 8)}`;
    const { invitationId } = await recovery.openInvitation({
      organizationId,
      chainId: h.stack.chainId,
      registryAddress: contracts.registry,
      lostWallet: lost,
      tokens: contracts.tokens,
      agentAddress: contracts.agent,
      expiresAt: new Date(Date.now() + (options?.expiresInMs ?? 600_000)),
    });
    const investor = privateKeyToAccount(generatePrivateKey());
    const acceptance = async (signer = investor) => ({
      newWallet: investor.address,
      signature: await signer.signMessage({ message: acceptanceMessage(invitationId, investor.address) }),
    });
    return { contracts, lost, investor, invitationId, fromBlock, acceptance };
  }

  const read = async (address: Hex, contract: "IdentityRegistry" | "PermissionedToken", functionName: string, args: unknown[]) => {
    const { abi } = await compiledContract(contract);
    return h.tools.client.readContract({ address, abi, functionName, args });
  };
  const minedByAgent = (fromBlock: bigint) => h.tools.minedTransactionsOf(agent().address, fromBlock + 1n);

  it("moves the identity and every balance to the new wallet, one transaction per step", async () => {
    const { contracts, lost, investor, invitationId, fromBlock, acceptance } = await setUp();
    await recovery.acceptInvitation(invitationId, await acceptance());
    const final = await recovery.waitForRecovery(invitationId);

    expect(final.stage).toBe("completed");
    expect(final.steps.map((s) => [s.step, s.outcome])).toEqual([
      ["identity", "completed"],
      ["token-0", "completed"],
      ["token-1", "completed"],
    ]);
    expect(await read(contracts.registry, "IdentityRegistry", "isVerified", [investor.address])).toBe(true);
    expect(await read(contracts.registry, "IdentityRegistry", "isVerified", [lost])).toBe(false);
    expect(await read(contracts.tokens[0]!, "PermissionedToken", "balanceOf", [investor.address])).toBe(parseEther("100"));
    expect(await read(contracts.tokens[1]!, "PermissionedToken", "balanceOf", [investor.address])).toBe(parseEther("7"));
    expect(await read(contracts.tokens[0]!, "PermissionedToken", "balanceOf", [lost])).toBe(0n);
    expect((await minedByAgent(fromBlock)).map((tx) => tx.to?.toLowerCase())).toEqual([contracts.registry, ...contracts.tokens].map((a) => a.toLowerCase()));
  });

  it("does not repeat the identity step when the worker is killed after it, and completes the token steps", async () => {
    const { contracts, investor, invitationId, fromBlock, acceptance } = await setUp();
    await h.tools.client.setAutomine(false);
    await recovery.acceptInvitation(invitationId, await acceptance());
    const identityTx = `${invitationId}-identity`;
    await waitFor("the identity transaction to be broadcast", async () => (await h.client.getTransactionStatus(identityTx))?.phase === "confirming");
    await h.tools.client.mine({ blocks: 1 });
    await waitFor("the token steps to start", async () => (await recovery.getRecoveryStatus(invitationId)).stage === "moving-balances");

    await h.worker.crash();
    await h.worker.start();
    await h.tools.client.setAutomine(true);
    await h.tools.client.mine({ blocks: 1 });
    const final = await recovery.waitForRecovery(invitationId);

    expect(final.stage).toBe("completed");
    const mined = await minedByAgent(fromBlock);
    expect(mined.filter((tx) => tx.to?.toLowerCase() === contracts.registry.toLowerCase())).toHaveLength(1);
    expect(mined).toHaveLength(3);
    expect(await read(contracts.tokens[1]!, "PermissionedToken", "balanceOf", [investor.address])).toBe(parseEther("7"));
  });

  it("refuses a signature that does not prove control of the new wallet, and keeps waiting", async () => {
    const { invitationId, acceptance } = await setUp();
    const impostor = privateKeyToAccount(generatePrivateKey());
    await expect(recovery.acceptInvitation(invitationId, await acceptance(impostor))).rejects.toThrow(/signature does not prove control/);
    expect((await recovery.getRecoveryStatus(invitationId)).stage).toBe("waiting-for-acceptance");
    await recovery.acceptInvitation(invitationId, await acceptance());
    expect((await recovery.waitForRecovery(invitationId)).stage).toBe("completed");
  });

  it("ends an invitation that expires with nothing on chain, and refuses a late acceptance", async () => {
    const { invitationId, fromBlock, acceptance } = await setUp({ expiresInMs: 2_000 });
    const final = await recovery.waitForRecovery(invitationId);
    expect(final).toMatchObject({ stage: "expired", steps: [] });
    await expect(recovery.acceptInvitation(invitationId, await acceptance())).rejects.toThrow(/closed|expired/);
    expect(await minedByAgent(fromBlock)).toEqual([]);
  });

  it("ends a cancelled invitation with nothing on chain, and refuses acceptance after it", async () => {
    const { invitationId, fromBlock, acceptance } = await setUp();
    await recovery.cancelInvitation(invitationId, "investor withdrew the request");
    const final = await recovery.waitForRecovery(invitationId);
    expect(final).toMatchObject({ stage: "cancelled", error: { code: "INVITATION_CANCELLED", message: "investor withdrew the request" } });
    await expect(recovery.acceptInvitation(invitationId, await acceptance())).rejects.toThrow(/closed/);
    expect(await minedByAgent(fromBlock)).toEqual([]);
  });

  it("undoes completed steps newest first when a token step fails, and the operator sees why in the DAPI", async () => {
    const { contracts, lost, investor, invitationId, fromBlock, acceptance } = await setUp({ pauseSecondToken: true });
    await recovery.acceptInvitation(invitationId, await acceptance());
    const final = await recovery.waitForRecovery(invitationId);

    expect(final.stage).toBe("failed-compensated");
    expect(final.compensation).toEqual({ kind: "compensated", compensated: ["token-0", "identity"] });
    expect(final.steps.map((s) => [s.step, s.outcome])).toEqual([
      ["identity", "completed"],
      ["token-0", "completed"],
      ["token-1", "failed"],
      ["token-0-undo", "completed"],
      ["identity-undo", "completed"],
    ]);
    // Back where it started.
    expect(await read(contracts.registry, "IdentityRegistry", "isVerified", [lost])).toBe(true);
    expect(await read(contracts.registry, "IdentityRegistry", "isVerified", [investor.address])).toBe(false);
    expect(await read(contracts.tokens[0]!, "PermissionedToken", "balanceOf", [lost])).toBe(parseEther("100"));
    // identity, token-0, then the two undos, newest first; token-1 was refused before broadcast.
    const mined = await minedByAgent(fromBlock);
    expect(mined.map((tx) => tx.to?.toLowerCase())).toEqual(
      [contracts.registry, contracts.tokens[0]!, contracts.tokens[0]!, contracts.registry].map((a) => a.toLowerCase()),
    );

    const dapi = await startDapiHarness();
    try {
      const inspection = await dapi.call<{ state: Record<string, unknown> }>("GET", `/api/v2/admin/operator/workflows/IdentityRecoveryWorkflow/${invitationId}`);
      expect(inspection.status).toBe(200);
      expect(JSON.stringify(inspection.body)).toContain("failed-compensated");
      expect(JSON.stringify(inspection.body)).toContain("EXECUTION_REVERTED");
    } finally {
      await dapi.close();
    }
  });
});
