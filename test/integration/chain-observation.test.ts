/**
 * The transaction workflow's reads of the chain tell "the chain says no" apart from "the RPC did not
 * answer": only the first may change a transaction's phase.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createChainAccess } from "../../shared/evm/chain-access.ts";
import { isCanonical } from "../../services/workflows/transaction-execution/chain-observation.ts";
import { createChainTools } from "../helpers/chain.ts";
import { startRpcProxy, type RpcProxy } from "../helpers/rpc-proxy.ts";

describe("chain observation", () => {
  const stack = inject("stack");
  const tools = createChainTools(stack);
  let rpc: RpcProxy;
  beforeAll(async () => {
    rpc = await startRpcProxy(stack.chainRpcUrl);
  });
  afterAll(async () => {
    await rpc.close();
  });

  it("answers whether a block is still canonical from the chain", async () => {
    const chain = createChainAccess({ rpcUrl: rpc.url, chainId: stack.chainId, timeoutMs: 2_000 });
    const block = await tools.client.getBlock();
    expect(await isCanonical(chain, Number(block.number), block.hash)).toBe(true);
    expect(await isCanonical(chain, Number(block.number), `0x${"11".repeat(32)}`)).toBe(false);
  });

  it("fails (to be asked again) instead of reporting a reorg when the RPC does not answer", async () => {
    const chain = createChainAccess({ rpcUrl: rpc.url, chainId: stack.chainId, timeoutMs: 1_000 });
    const block = await tools.client.getBlock();
    rpc.setMode("down");
    try {
      await expect(isCanonical(chain, Number(block.number), block.hash)).rejects.toThrow();
    } finally {
      rpc.setMode("up");
    }
  });
});
