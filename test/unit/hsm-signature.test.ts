import { hexToBytes, keccak256, recoverAddress, toHex, type Hex } from "viem";
import { privateKeyToAccount, publicKeyToAddress, sign } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { ecPointOf, ethereumSignatureOf, isLowS, recoveryParity, SECP256K1_N, splitRawSignature, toLowS } from "../../shared/signers/hsm/signature.ts";

const privateKey: Hex = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const account = privateKeyToAccount(privateKey);
const hash = keccak256(toHex("a transaction to sign"));

/** r ‖ s as an HSM answers CKM_ECDSA. */
const rawOf = (r: bigint, s: bigint) => hexToBytes(`0x${r.toString(16).padStart(64, "0")}${s.toString(16).padStart(64, "0")}`);

async function referenceSignature() {
  const signature = await sign({ hash, privateKey });
  return { r: BigInt(signature.r), s: BigInt(signature.s), yParity: signature.yParity! };
}

describe("HSM signature normalisation", () => {
  it("splits a 64-byte answer into r and s", async () => {
    const { r, s } = await referenceSignature();
    expect(splitRawSignature(rawOf(r, s))).toEqual({ r, s });
  });

  it("refuses an answer that is not 64 bytes", () => {
    expect(() => splitRawSignature(new Uint8Array(63))).toThrow(/64 bytes/);
  });

  it("brings a high s into the lower half of the curve order", async () => {
    const { r, s } = await referenceSignature();
    const high = { r, s: SECP256K1_N - s };
    expect(isLowS(high)).toBe(false);
    expect(toLowS(high)).toEqual({ r, s });
  });

  it("leaves a low s as it is", async () => {
    const { r, s } = await referenceSignature();
    expect(toLowS({ r, s })).toEqual({ r, s });
  });

  it("finds the recovery bit that gives back the signer's address", async () => {
    const { r, s, yParity } = await referenceSignature();
    expect(await recoveryParity(hash, { r, s }, account.address)).toBe(yParity);
  });

  it("finds no recovery bit for another address", async () => {
    const { r, s } = await referenceSignature();
    expect(await recoveryParity(hash, { r, s }, privateKeyToAccount(`0x${"11".repeat(32)}`).address)).toBeNull();
  });

  it("turns a high-s answer into a low-s Ethereum signature of the signer", async () => {
    const { r, s } = await referenceSignature();
    const signature = await ethereumSignatureOf(hash, rawOf(r, SECP256K1_N - s), account.address);
    expect(signature).not.toBeNull();
    expect(BigInt(signature!.s)).toBe(s);
    expect(await recoverAddress({ hash, signature: signature! })).toBe(account.address);
  });

  it("calls an answer with a damaged r invalid (signed again, never used)", async () => {
    const { r, s } = await referenceSignature();
    expect(await ethereumSignatureOf(hash, rawOf(r ^ 1n, s), account.address)).toBeNull();
  });

  it("calls an answer outside the curve order invalid", async () => {
    const { r } = await referenceSignature();
    expect(await ethereumSignatureOf(hash, rawOf(r, 0n), account.address)).toBeNull();
    expect(await ethereumSignatureOf(hash, rawOf(SECP256K1_N, 5n), account.address)).toBeNull();
  });

  it("calls an answer over another hash invalid", async () => {
    const { r, s } = await referenceSignature();
    expect(await ethereumSignatureOf(keccak256(toHex("something else")), rawOf(r, s), account.address)).toBeNull();
  });
});

describe("HSM public points", () => {
  const point = hexToBytes(account.publicKey);

  it("reads the point out of CKA_EC_POINT's DER octet string", () => {
    const der = new Uint8Array([0x04, 0x41, ...point]);
    expect(publicKeyToAddress(toHex(ecPointOf(der)))).toBe(account.address);
  });

  it("takes a bare uncompressed point as it is", () => {
    expect(publicKeyToAddress(toHex(ecPointOf(point)))).toBe(account.address);
  });

  it("refuses a compressed point", () => {
    expect(() => ecPointOf(point.subarray(0, 33))).toThrow(/uncompressed/);
  });
});
