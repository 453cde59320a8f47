/**
 * The chain's own limit on this machine: transactions signed beforehand and sent straight to anvil
 * with viem, no ddwf in between. With automine each send returns once its block is mined.
 */
import { createWalletClient, http, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { BenchStack } from "../stack.ts";
import { summarize, type Summary } from "../stats.ts";

export async function chainCeiling(bench: BenchStack, parameters: { senders: number; perSender: number }): Promise<Summary> {
  const keys = await Promise.all(
    Array.from({ length: parameters.senders }, async () => {
      const privateKey = generatePrivateKey();
      await bench.tools.client.setBalance({ address: privateKeyToAccount(privateKey).address, value: 10n ** 21n });
      return privateKey;
    }),
  );
  const fees = await bench.tools.client.estimateFeesPerGas();
  const signed: Hex[][] = await Promise.all(
    keys.map((privateKey) => {
      const account = privateKeyToAccount(privateKey);
      return Promise.all(
        Array.from({ length: parameters.perSender }, (_, nonce) =>
          account.signTransaction({
            type: "eip1559",
            chainId: bench.stack.chainId,
            nonce,
            to: account.address,
            value: 1n,
            gas: 21_000n,
            maxFeePerGas: fees.maxFeePerGas * 2n,
            maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
          }),
        ),
      );
    }),
  );
  const wallet = createWalletClient({ chain: bench.tools.chain, transport: http(bench.stack.chainRpcUrl) });
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    signed.map(async (transactions) => {
      for (const raw of transactions) {
        const t0 = performance.now();
        await wallet.sendRawTransaction({ serializedTransaction: raw });
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return summarize(latencies, performance.now() - started);
}
