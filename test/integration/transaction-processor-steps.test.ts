/**
 * The processor's submit step on the suite's anvil and database, called directly: two attempts of
 * the same step running at once, as when a worker's connection to Restate dies while its step runs on
 * and Restate starts the step again elsewhere. Each signs the call on the same nonce with other fees
 * (other bytes); the first mined takes the nonce. The other attempt must count the nonce as the
 * transaction's, not as taken by another sender (that would sign the call again at a new nonce: a
 * second execution, seen once in the cluster drill that kills a node and a replica at once).
 */
import { keccak256, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { recordTransactionSignature } from "../../shared/db/repositories/transaction-signatures.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertTransaction } from "../../shared/db/repositories/transactions.ts";
import { createChainAccess, createChainRegistry } from "../../shared/evm/chain-access.ts";
import { createSignerRegistry } from "../../shared/signers/signer-registry.ts";
import { createProcessorSteps } from "../../services/transaction-processor/steps.ts";
import { startRpcProxy } from "../helpers/rpc-proxy.ts";
import { startTransactionHarness, type TransactionHarness } from "../helpers/transaction-harness.ts";

describe("the processor's submit step run twice at once", () => {
  let h: TransactionHarness;
  beforeAll(async () => {
    h = await startTransactionHarness({ senders: 1, name: "processor-steps-worker" });
  });
  afterAll(async () => {
    await h?.stop();
  });

  it("counts a nonce that the other attempt's bytes took as the transaction's, and answers every stored signature", async () => {
    const sender = h.senders[0]!;
    const signerAddress = sender.address.toLowerCase() as Hex;
    const transactionId = h.newTransactionId();
    await insertTransaction(h.db, {
      id: transactionId,
      organizationId: h.organizationId,
      chainId: h.stack.chainId,
      signerAddress,
      target: signerAddress,
      data: "0x",
      value: "1",
      gas: null,
      executor: { route: "eoa" },
      idempotencyKey: transactionId,
      correlationId: null,
    });
    const nonce = await h.tools.client.getTransactionCount({ address: sender.address });
    const proxy = await startRpcProxy(h.stack.chainRpcUrl);
    try {
      const steps = createProcessorSteps({
        db: h.db,
        chains: createChainRegistry([createChainAccess({ rpcUrl: proxy.url, chainId: h.stack.chainId })]),
        signers: createSignerRegistry({ privateKeys: [sender.privateKey] }),
        metrics: { nonceReplacement: () => undefined, nonceFilled: () => undefined },
        settings: { feeBumpPercent: 12.5, maxFeePerGasGwei: 500, attributionSuffix: "0x", confirmations: 1 },
      });
      // This attempt stores its bytes and is held at the node's door...
      proxy.holdSends();
      const attempt = steps.submitAtNonce(
        {
          transactionId,
          attempt: 0,
          organizationId: h.organizationId,
          signerAddress,
          chainId: h.stack.chainId,
          operation: { target: signerAddress, data: "0x", value: "1", gasLimit: "21000", maxFeePerGas: "31000000000", maxPriorityFeePerGas: "1000000000" },
        },
        nonce,
      );
      await waitFor("the attempt's send to be held", async () => proxy.held() === 1);
      // ...while the other attempt of the same step, which read before this one stored, stores and
      // sends its own bytes of the call on the nonce (other fees), and they are mined.
      const other = await privateKeyToAccount(sender.privateKey as Hex).signTransaction({
        chainId: h.stack.chainId,
        type: "eip1559",
        to: signerAddress,
        value: 1n,
        gas: 21_000n,
        nonce,
        maxFeePerGas: 30_000_000_000n,
        maxPriorityFeePerGas: 1_000_000_000n,
      });
      const otherHash = keccak256(other);
      await recordTransactionSignature(h.db, { transactionId, nonce, hash: otherHash, raw: other, maxFeePerGas: "30000000000", maxPriorityFeePerGas: "1000000000", kind: "original" });
      await h.tools.client.sendRawTransaction({ serializedTransaction: other });
      proxy.releaseSends();

      const result = await attempt;
      expect(result).toMatchObject({ kind: "signed", outcome: "sent" });
      if (result.kind !== "signed") return;
      expect(result.signatures.map((signature) => signature.hash)).toContain(otherHash);
      expect(result.mined?.hash).toBe(otherHash);
      expect(await h.tools.client.getTransactionCount({ address: sender.address })).toBe(nonce + 1);
    } finally {
      await proxy.close();
    }
  });
});
