/**
 * The HSM signer's checks, against a token that signs with a real secp256k1 key the way PKCS#11
 * answers CKM_ECDSA (r ‖ s, s in either half) and can be told to damage its next answers, as
 * SoftHSMv2 sometimes does (its issue 901). The signer on SoftHSM2 itself is exercised by
 * test/integration/transaction-sign-only.test.ts.
 */
import { hexToBytes, keccak256, parseTransaction, recoverTransactionAddress, serializeTransaction, type Hex, type TransactionSerializableEIP1559 } from "viem";
import { privateKeyToAccount, sign } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { createHsmSigner, HSM_SIGN_ATTEMPTS } from "../../shared/signers/hsm/hsm-signer.ts";
import { SECP256K1_N } from "../../shared/signers/hsm/signature.ts";

const privateKey: Hex = "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba";
const address = privateKeyToAccount(privateKey).address.toLowerCase() as Hex;
const transaction: TransactionSerializableEIP1559 = {
  type: "eip1559",
  chainId: 31337,
  nonce: 7,
  to: "0x0000000000000000000000000000000000000001",
  value: 1n,
  gas: 21_000n,
  maxFeePerGas: 2_000_000_000n,
  maxPriorityFeePerGas: 1_000_000_000n,
};

/**
 * What a token holding the key answers to CKM_ECDSA over the transaction's digest, attempt by
 * attempt: r ‖ s, s in the upper half when `highS`, r damaged in the first `damage` answers.
 */
async function tokenAnswers(options: { damage?: number; highS?: boolean }): Promise<Buffer[]> {
  const hash = keccak256(serializeTransaction(transaction));
  const answers: Buffer[] = [];
  for (let attempt = 0; attempt < HSM_SIGN_ATTEMPTS; attempt++) {
    const signature = await sign({ hash, privateKey });
    const r = BigInt(signature.r) ^ (attempt < (options.damage ?? 0) ? 0xffn : 0n);
    const s = options.highS ? SECP256K1_N - BigInt(signature.s) : BigInt(signature.s);
    answers.push(Buffer.from(hexToBytes(`0x${r.toString(16).padStart(64, "0")}${s.toString(16).padStart(64, "0")}`)));
  }
  return answers;
}

/** The signer over a token that gives these answers in turn (synchronously, as C_Sign does). */
async function signerOver(options: { damage?: number; highS?: boolean } = {}) {
  const answers = await tokenAnswers(options);
  return createHsmSigner({ token: { tokenLabel: "test", keys: () => [{ address, label: "k" }], rescan: () => {}, close: () => {}, signDigest: () => answers.shift()! } });
}

describe("the HSM signer", () => {
  it("turns a high-s answer into a low-s transaction that recovers to the signer", async () => {
    const signer = await signerOver({ highS: true });
    const raw = await signer.signTransaction(address, transaction);
    expect(BigInt(parseTransaction(raw).s!) <= SECP256K1_N / 2n).toBe(true);
    expect((await recoverTransactionAddress({ serializedTransaction: raw as never })).toLowerCase()).toBe(address);
    expect(signer.invalidSignatures()).toBe(0);
  });

  it("signs again after a damaged answer and never uses it", async () => {
    const signer = await signerOver({ damage: 1 });
    const raw = await signer.signTransaction(address, transaction);
    expect((await recoverTransactionAddress({ serializedTransaction: raw as never })).toLowerCase()).toBe(address);
    expect(signer.invalidSignatures()).toBe(1);
  });

  it("gives up with an error, and no bytes, when every answer is damaged", async () => {
    const signer = await signerOver({ damage: HSM_SIGN_ATTEMPTS });
    await expect(signer.signTransaction(address, transaction)).rejects.toThrow(/invalid signatures in a row/);
    expect(signer.invalidSignatures()).toBe(HSM_SIGN_ATTEMPTS);
  });
});
