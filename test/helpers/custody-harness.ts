/**
 * The custody route end to end: the local Fireblocks server (test/helpers/fireblocks-server.ts), a
 * worker process configured for it the way production is (API key and secret key file), a
 * deployed ExecutionProbe to call, and helpers to make funded vaults and submit calls from them.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEther, type Hex } from "viem";
import { inject } from "vitest";
import { waitFor } from "../../infra/local/wait-for.ts";
import { startFireblocksServer, type FireblocksServer, type ProviderTransaction } from "./fireblocks-server.ts";
import { startTransactionHarness } from "./transaction-harness.ts";

export const CUSTODY_ASSET_ID = "ETH_TEST_LOCAL";

export async function startCustodyHarness(options: { name: string; env?: Record<string, string> }) {
  const stack = inject("stack");
  const provider: FireblocksServer = await startFireblocksServer({ chainRpcUrl: stack.chainRpcUrl, chainId: stack.chainId, assetId: CUSTODY_ASSET_ID, policy: "manual" });
  const keyFile = join(await mkdtemp(join(tmpdir(), "ddwf-fireblocks-")), "fireblocks-secret.pem");
  await writeFile(keyFile, provider.secretKeyPem, { mode: 0o600 });
  const h = await startTransactionHarness({
    senders: 1,
    name: options.name,
    env: {
      FIREBLOCKS_API_KEY: provider.apiKey,
      FIREBLOCKS_SECRET_KEY_PATH: keyFile,
      FIREBLOCKS_BASE_PATH: provider.basePath,
      FIREBLOCKS_ASSET_ID: CUSTODY_ASSET_ID,
      CUSTODY_POLL_INTERVAL_MS: "100",
      CUSTODY_POLL_MAX_INTERVAL_MS: "400",
      ...options.env,
    },
  });
  const { contract, probe, pokeData } = await h.deployProbe();

  /** A vault at the provider, its address funded on chain. */
  const newVault = async () => {
    const vault = provider.createVault();
    await h.tools.client.setBalance({ address: vault.address, value: parseEther("10") });
    return vault;
  };

  /** Submits `poke(tag)` on the probe from the vault through the custody route; answers the id. */
  const submit = async (vault: { vaultId: string; address: Hex }, tag: number): Promise<string> => {
    const transactionId = h.newTransactionId();
    await h.client.submitTransaction({
      transactionId,
      organizationId: h.organizationId,
      chainId: stack.chainId,
      signerAddress: vault.address,
      target: probe,
      data: pokeData(tag),
      executor: { route: "custody", provider: "fireblocks", vaultId: vault.vaultId },
    });
    return transactionId;
  };

  /** The one provider transaction created for our transaction id (waits for it). */
  const providerTransactionOf = async (transactionId: string): Promise<ProviderTransaction> => {
    await waitFor(`a provider transaction for ${transactionId}`, async () => provider.byExternalId(transactionId).length > 0, { timeoutMs: 30_000, intervalMs: 50 });
    return provider.byExternalId(transactionId)[0]!;
  };

  /** A fresh vault submits `poke(tag)`; answers once the transaction waits for the provider's approval. */
  const submitUntilAwaitingApproval = async (tag: number) => {
    const vault = await newVault();
    const fromBlock = await h.tools.client.getBlockNumber();
    const transactionId = await submit(vault, tag);
    const providerTx = await providerTransactionOf(transactionId);
    await h.waitForPhase(transactionId, "awaiting-approval");
    return { vault, fromBlock, transactionId, providerTx };
  };

  /** The vault's transactions in mined blocks from `fromBlock` on. */
  const minedFrom = (vault: { address: Hex }, fromBlock: bigint) => h.tools.minedTransactionsOf(vault.address, fromBlock);

  return {
    ...h,
    provider,
    probe,
    contract,
    newVault,
    pokeData,
    submit,
    providerTransactionOf,
    submitUntilAwaitingApproval,
    minedFrom,
    stop: async () => {
      await h.stop();
      await provider.close();
    },
  };
}

export type CustodyHarness = Awaited<ReturnType<typeof startCustodyHarness>>;
