/**
 * Maps a signer address to the key material that signs for it on the direct EOA route. Keys come
 * from configuration (development keys for anvil); they stay inside this closure and never reach
 * logs, the Restate journal or error messages: callers get addresses and signed bytes only.
 */
import type { Hex, TransactionSerializableEIP1559 } from "viem";
import { privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";

export type SignerRegistry = {
  has(address: string): boolean;
  addresses(): string[];
  signTransaction(address: string, transaction: TransactionSerializableEIP1559): Promise<Hex>;
};

export class SignerKeyError extends Error {
  readonly code = "SIGNER_KEY_INVALID";
  constructor(index: number) {
    super(`signer key #${index + 1} is not a 32-byte hex private key`);
  }
}

export function createSignerRegistry(parameters: { privateKeys: readonly string[] }): SignerRegistry {
  const accounts = new Map<string, PrivateKeyAccount>();
  parameters.privateKeys.forEach((key, index) => {
    if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new SignerKeyError(index);
    const account = privateKeyToAccount(key as Hex);
    accounts.set(account.address.toLowerCase(), account);
  });
  return {
    has: (address) => accounts.has(address.toLowerCase()),
    addresses: () => [...accounts.keys()],
    signTransaction: async (address, transaction) => {
      const account = accounts.get(address.toLowerCase());
      if (!account) throw new Error(`no key for signer ${address}`);
      return account.signTransaction(transaction);
    },
  };
}
