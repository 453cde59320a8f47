/**
 * Compiles the Solidity sources in `contracts/` with solc-js from npm (no native toolchain, no
 * download): the tests and the `npm start` demo deploy what this returns.
 */
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import type { Abi, Hex } from "viem";

export type CompiledContract = { name: string; abi: Abi; bytecode: Hex };

type SolcOutput = {
  errors?: { severity: string; formattedMessage: string }[];
  contracts: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string } } }>>;
};

const require = createRequire(import.meta.url);
let cached: Promise<Map<string, CompiledContract>> | undefined;

export function compileContracts(directory = resolve("contracts")): Promise<Map<string, CompiledContract>> {
  cached ??= compile(directory);
  return cached;
}

export async function compiledContract(name: string): Promise<CompiledContract> {
  const contract = (await compileContracts()).get(name);
  if (!contract) throw new Error(`contract ${name} is not in contracts/`);
  return contract;
}

async function compile(directory: string): Promise<Map<string, CompiledContract>> {
  const solc = require("solc") as { compile(input: string): string };
  const files = (await readdir(directory)).filter((file) => file.endsWith(".sol"));
  const sources: Record<string, { content: string }> = {};
  for (const file of files) sources[file] = { content: await readFile(join(directory, file), "utf8") };
  const input = {
    language: "Solidity",
    sources,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((error) => error.severity === "error");
  if (errors.length > 0) throw new Error(`solc failed:\n${errors.map((error) => error.formattedMessage).join("\n")}`);
  const contracts = new Map<string, CompiledContract>();
  for (const perFile of Object.values(output.contracts)) {
    for (const [name, artifact] of Object.entries(perFile)) {
      contracts.set(name, { name, abi: artifact.abi, bytecode: `0x${artifact.evm.bytecode.object}` });
    }
  }
  return contracts;
}
