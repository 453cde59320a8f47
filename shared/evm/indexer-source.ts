/**
 * How far the indexer (the platform's read model of the chain) has progressed. A transaction is
 * `completed` only once the indexer has reached its block, so readers of the indexed state see it.
 * The default source is the chain head itself; an indexer exposing `{ "blockNumber": n }` over HTTP
 * plugs in through INDEXER_STATUS_URL.
 */
import type { ChainRegistry } from "./chain-access.ts";

export type IndexerSource = { name: string; indexedBlock(chainId: number): Promise<number> };

export function createChainHeadIndexerSource(chains: ChainRegistry): IndexerSource {
  return {
    name: "chain-head",
    indexedBlock: async (chainId) => {
      const chain = chains.get(chainId);
      if (!chain) throw new Error(`chain ${chainId} is not configured`);
      return Number(await chain.client.getBlockNumber());
    },
  };
}

export function createHttpIndexerSource(url: string): IndexerSource {
  return {
    name: "http",
    indexedBlock: async (chainId) => {
      const target = new URL(url);
      target.searchParams.set("chainId", String(chainId));
      const response = await fetch(target, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) throw new Error(`indexer status answered ${response.status}`);
      const body = (await response.json()) as { blockNumber?: unknown };
      const block = Number(body.blockNumber);
      if (!Number.isSafeInteger(block)) throw new Error("indexer status has no numeric blockNumber");
      return block;
    },
  };
}
