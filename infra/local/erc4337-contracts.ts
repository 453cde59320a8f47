/**
 * Puts the ERC-4337 contracts ddwf's smart-wallet route uses on a chain that lacks them (a local
 * anvil): EntryPoint v0.7 from `@account-abstraction/contracts`, and the Safe 1.4.1 singleton and
 * proxy factory with the Safe 4337 module 0.3.0 and its setup helper from `@safe-global/*`. Each
 * goes through the deterministic CREATE2 deployer (present on anvil) with the salt that gives its
 * known address: the EntryPoint lands at its canonical address, the Safe parts where
 * SAFE_CONTRACTS says. Contracts already there are left alone, so calling this twice is harmless.
 */
import { createRequire } from "node:module";
import { concat, createPublicClient, createWalletClient, encodeDeployData, getContractAddress, http, type Abi, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { ENTRY_POINT_V07, SAFE_CONTRACTS } from "../../shared/evm/erc4337/safe-account.ts";

const require = createRequire(import.meta.url);

/** The CREATE2 factory anvil (and most chains) has at this address. */
export const DETERMINISTIC_DEPLOYER: Address = "0x4e59b44847b379578588920cA78FbF26c0B4956C";
/** The salt the EntryPoint v0.7 release was deployed with. */
const ENTRY_POINT_SALT: Hex = "0x90d8084deab30c2a37c45e8d47f49f2f7965183cb6990a98943ef94940681de3";
const ZERO_SALT: Hex = `0x${"00".repeat(32)}`;

type Artifact = { abi: Abi; bytecode: Hex };
const artifact = (path: string): Artifact => require(path) as Artifact;

function planned(): { name: string; salt: Hex; initCode: Hex; expected: Address }[] {
  const safe = "@safe-global/safe-contracts/build/artifacts/contracts/";
  const module4337 = "@safe-global/safe-4337/build/artifacts/contracts/";
  const moduleArtifact = artifact(`${module4337}Safe4337Module.sol/Safe4337Module.json`);
  return [
    { name: "EntryPoint v0.7", salt: ENTRY_POINT_SALT, initCode: artifact("@account-abstraction/contracts/artifacts/EntryPoint.json").bytecode, expected: ENTRY_POINT_V07 },
    { name: "SafeL2 1.4.1", salt: ZERO_SALT, initCode: artifact(`${safe}SafeL2.sol/SafeL2.json`).bytecode, expected: SAFE_CONTRACTS.singleton },
    { name: "SafeProxyFactory 1.4.1", salt: ZERO_SALT, initCode: artifact(`${safe}proxies/SafeProxyFactory.sol/SafeProxyFactory.json`).bytecode, expected: SAFE_CONTRACTS.proxyFactory },
    { name: "SafeModuleSetup 0.3.0", salt: ZERO_SALT, initCode: artifact(`${module4337}SafeModuleSetup.sol/SafeModuleSetup.json`).bytecode, expected: SAFE_CONTRACTS.moduleSetup },
    {
      name: "Safe4337Module 0.3.0",
      salt: ZERO_SALT,
      initCode: encodeDeployData({ abi: moduleArtifact.abi, bytecode: moduleArtifact.bytecode, args: [ENTRY_POINT_V07] }),
      expected: SAFE_CONTRACTS.module,
    },
  ];
}

export type DeployErc4337ContractsParameters = {
  rpcUrl: string;
  /** A funded key that pays for the deployments. */
  deployerKey: Hex;
};

/** Deploys whatever of the set is missing; answers the names of those it deployed. */
export async function deployErc4337Contracts(parameters: DeployErc4337ContractsParameters): Promise<string[]> {
  const client = createPublicClient({ transport: http(parameters.rpcUrl), cacheTime: 0 });
  const chainId = await client.getChainId();
  const wallet = createWalletClient({ account: privateKeyToAccount(parameters.deployerKey), transport: http(parameters.rpcUrl) });
  const deployed: string[] = [];
  if (!(await client.getCode({ address: DETERMINISTIC_DEPLOYER }))) throw new Error(`chain ${chainId} has no deterministic deployer at ${DETERMINISTIC_DEPLOYER}`);
  for (const contract of planned()) {
    const address = getContractAddress({ opcode: "CREATE2", from: DETERMINISTIC_DEPLOYER, salt: contract.salt, bytecode: contract.initCode });
    if (address !== contract.expected) throw new Error(`${contract.name} would land at ${address}, not at ${contract.expected}: the npm artifact differs from the release`);
    if (await client.getCode({ address })) continue;
    const hash = await wallet.sendTransaction({ chain: null, to: DETERMINISTIC_DEPLOYER, data: concat([contract.salt, contract.initCode]), gas: 8_000_000n });
    const receipt = await client.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success" || !(await client.getCode({ address }))) throw new Error(`deploying ${contract.name} failed (${hash})`);
    deployed.push(contract.name);
  }
  return deployed;
}
