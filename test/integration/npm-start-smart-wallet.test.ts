/**
 * `npm start`'s smart-wallet part on a chain of its own (the suite's anvil stands in for it): the
 * ERC-4337 contracts are put on the chain and a real alto is started as an owned child, whose URL
 * the worker gets as BUNDLER_URL; a configured BUNDLER_URL is used as it is, and a configured chain
 * without one leaves the route off.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { prepareLocalSmartWallet } from "../../infra/local/dev-smart-wallet.ts";
import type { OwnedChildren, Stoppable } from "../../infra/local/launcher-parts.ts";
import { loadConfig } from "../../shared/config.ts";
import { ENTRY_POINT_V07, SAFE_CONTRACTS } from "../../shared/evm/erc4337/safe-account.ts";
import { bundlerRpc } from "../helpers/bundler.ts";
import { createChainTools } from "../helpers/chain.ts";

describe("npm start's smart-wallet route", () => {
  const stack = inject("stack");
  const owned: Stoppable[] = [];
  const shutdowns: string[] = [];
  const children: OwnedChildren = {
    add: (part) => owned.push(part),
    shutdown: async (reason) => {
      shutdowns.push(reason);
    },
    isStopping: () => false,
  };
  afterAll(async () => {
    for (const part of owned.reverse()) await part.stop();
  });

  it("puts the ERC-4337 contracts on its own chain and starts alto as a child whose URL the worker gets", async () => {
    const logDir = await mkdtemp(join(tmpdir(), "ddwf-start-alto-"));
    const local = await prepareLocalSmartWallet(loadConfig({}), { chainRpcUrl: stack.chainRpcUrl, ownChain: true, logDir, children });
    expect(local.env.BUNDLER_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/rpc$/);
    expect(local.lines.join("\n")).toContain(`Smart-wallet route  alto at ${local.env.BUNDLER_URL}`);
    expect(owned.map((part) => part.name)).toEqual(["alto"]);
    expect(await bundlerRpc<string[]>(local.env.BUNDLER_URL!, "eth_supportedEntryPoints")).toEqual([ENTRY_POINT_V07]);
    const tools = createChainTools(stack);
    for (const address of [ENTRY_POINT_V07, ...Object.values(SAFE_CONTRACTS)]) expect(await tools.client.getCode({ address })).toMatch(/^0x.+/);
    expect(shutdowns).toEqual([]);
  });

  it("uses a configured BUNDLER_URL as it is, and leaves the route off on a configured chain without one", async () => {
    const logDir = await mkdtemp(join(tmpdir(), "ddwf-start-alto-"));
    const ownedBefore = owned.length;
    const configured = await prepareLocalSmartWallet(loadConfig({ BUNDLER_URL: "http://bundler.example:4337/rpc" }), { chainRpcUrl: stack.chainRpcUrl, ownChain: true, logDir, children });
    expect(configured).toEqual({ env: {}, lines: ["  Smart-wallet route  bundler http://bundler.example:4337/rpc as configured"] });
    const off = await prepareLocalSmartWallet(loadConfig({}), { chainRpcUrl: stack.chainRpcUrl, ownChain: false, logDir, children });
    expect(off.env).toEqual({});
    expect(off.lines[0]).toContain("off (set BUNDLER_URL");
    expect(owned.length).toBe(ownedBefore);
  });
});
