/**
 * The worker's one way to reach a chain: a viem public client over HTTP. Two layers of retry:
 * the transport retries one call a few times within ~1 s (rate limits and blips, which are common
 * and cheap to ride out), and every chain call runs inside a journaled step whose retry policy
 * handles longer outages. A step makes several calls, so without the first layer a node failing
 * half its calls would fail most steps.
 */
import { createPublicClient, defineChain, http, type Chain, type HttpTransport, type PublicClient } from "viem";

export type ChainAccess = {
  chainId: number;
  rpcUrl: string;
  client: PublicClient<HttpTransport, Chain>;
};

export type CreateChainAccessParameters = { rpcUrl: string; chainId: number; timeoutMs?: number };

export function createChainAccess(parameters: CreateChainAccessParameters): ChainAccess {
  const chain = defineChain({
    id: parameters.chainId,
    name: `chain-${parameters.chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [parameters.rpcUrl] } },
  });
  const client = createPublicClient({
    chain,
    // viem caches eth_blockNumber for `cacheTime` (4 s by default); confirmation and indexer checks
    // need the head as it is now.
    cacheTime: 0,
    transport: http(parameters.rpcUrl, { retryCount: 3, retryDelay: 100, timeout: parameters.timeoutMs ?? 10_000 }),
  });
  return { chainId: parameters.chainId, rpcUrl: parameters.rpcUrl, client };
}

/** Chain access per chain id; the seam where more chains (and their RPC routing) plug in. */
export type ChainRegistry = { get(chainId: number): ChainAccess | undefined; chainIds(): number[] };

export function createChainRegistry(chains: ChainAccess[]): ChainRegistry {
  const byId = new Map(chains.map((chain) => [chain.chainId, chain]));
  return { get: (chainId) => byId.get(chainId), chainIds: () => [...byId.keys()] };
}
