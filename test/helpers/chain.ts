/**
 * Direct access to the test chain (anvil) for set-up and for checking what really happened on
 * chain: fresh funded senders per test, contract deployment, and anvil's mining controls.
 */
import { createTestClient, createWalletClient, http, parseEther, publicActions, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { foundry } from "viem/chains";
import { compiledContract } from "../../infra/contracts/compile.ts";
import type { TestStack } from "./stack.ts";

export type Sender = { privateKey: Hex; address: Hex };

export function createChainTools(stack: TestStack) {
  const chain = { ...foundry, id: stack.chainId };
  const client = createTestClient({ chain, mode: "anvil", cacheTime: 0, transport: http(stack.chainRpcUrl) }).extend(publicActions);

  const newSender = async (ether = "100"): Promise<Sender> => {
    const privateKey = generatePrivateKey();
    const address = privateKeyToAccount(privateKey).address.toLowerCase() as Hex;
    await client.setBalance({ address, value: parseEther(ether) });
    return { privateKey, address };
  };

  const deploy = async (name: string, deployer: Sender): Promise<Hex> => {
    const contract = await compiledContract(name);
    const wallet = createWalletClient({ chain, transport: http(stack.chainRpcUrl), account: privateKeyToAccount(deployer.privateKey) });
    const hash = await wallet.deployContract({ abi: contract.abi, bytecode: contract.bytecode });
    const receipt = await client.waitForTransactionReceipt({ hash });
    if (!receipt.contractAddress) throw new Error(`deploying ${name} produced no address`);
    return receipt.contractAddress;
  };

  /** Every transaction a sender has in mined blocks from `fromBlock` on, with its nonce. */
  const minedTransactionsOf = async (sender: Hex, fromBlock: bigint) => {
    const head = await client.getBlockNumber();
    const found: { hash: Hex; nonce: number; blockNumber: bigint; input: Hex; to: Hex | null }[] = [];
    for (let number = fromBlock; number <= head; number++) {
      const block = await client.getBlock({ blockNumber: number, includeTransactions: true });
      for (const tx of block.transactions) {
        if (tx.from.toLowerCase() === sender.toLowerCase()) {
          found.push({ hash: tx.hash, nonce: tx.nonce, blockNumber: number, input: tx.input, to: tx.to });
        }
      }
    }
    return found;
  };

  return { chain, client, newSender, deploy, minedTransactionsOf };
}

export type ChainTools = ReturnType<typeof createChainTools>;
