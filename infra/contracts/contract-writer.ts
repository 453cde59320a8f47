/**
 * Deploys and calls the contracts in `contracts/` from one key, directly (not through ddwf), waiting
 * for each receipt: what tests and the `npm start` demos use to set up a chain.
 */
import { createPublicClient, createWalletClient, http, type Chain, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { compiledContract } from "./compile.ts";

export function createContractWriter(parameters: { rpcUrl: string; chain: Chain; privateKey: Hex }) {
  const account = privateKeyToAccount(parameters.privateKey);
  const wallet = createWalletClient({ chain: parameters.chain, transport: http(parameters.rpcUrl), account });
  const client = createPublicClient({ chain: parameters.chain, transport: http(parameters.rpcUrl), cacheTime: 0 });

  return {
    account,
    /** Deploys `contract` with its constructor arguments; returns its address. */
    deploy: async (contract: string, args: unknown[]): Promise<Hex> => {
      const { abi, bytecode } = await compiledContract(contract);
      const hash = await wallet.deployContract({ abi, bytecode, args });
      const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
      if (!receipt.contractAddress) throw new Error(`deploying ${contract} produced no address`);
      return receipt.contractAddress;
    },
    /**
     * Calls `functionName` of `contract` at `address` and waits for it; throws when it reverts.
     * `wait: false` returns once the node has the transaction (for a test that mines by hand);
     * `fees` fixes its fees (a lower tip places it after others in the block anvil mines).
     */
    send: async (
      contract: string,
      address: Hex,
      functionName: string,
      args: unknown[],
      options?: { wait?: boolean; fees?: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } },
    ): Promise<Hex> => {
      const { abi } = await compiledContract(contract);
      const hash = await wallet.writeContract({ address, abi, functionName, args, ...options?.fees });
      if (options?.wait === false) return hash;
      const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
      if (receipt.status !== "success") throw new Error(`${contract}.${functionName} reverted`);
      return hash;
    },
  };
}

export type ContractWriter = ReturnType<typeof createContractWriter>;
