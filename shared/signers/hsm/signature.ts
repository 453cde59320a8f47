/**
 * Turning what an HSM answers to CKM_ECDSA (r and s, 32 bytes each, nothing more) into an Ethereum
 * signature: s brought into the lower half of the curve order (EIP-2, as every node requires), and
 * the recovery bit found by recovering the public key and comparing its address with the signer's.
 * A signature that recovers to no parity is invalid and must never be used: SoftHSMv2 answers
 * such signatures now and then for secp256k1 (its issue 901); the signer signs again.
 */
import { recoverAddress, type Hex } from "viem";

/** The order of secp256k1's base point. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_N = SECP256K1_N >> 1n;

export type RawSignature = { r: bigint; s: bigint };
export type EthereumSignature = { r: Hex; s: Hex; yParity: 0 | 1 };

/** r and s of a PKCS#11 ECDSA answer (r ‖ s, each as long as the curve order: 32 bytes here). */
export function splitRawSignature(raw: Uint8Array): RawSignature {
  if (raw.length !== 64) throw new Error(`an ECDSA signature over secp256k1 has 64 bytes, not ${raw.length}`);
  return { r: bytesToBigInt(raw.subarray(0, 32)), s: bytesToBigInt(raw.subarray(32)) };
}

/** Whether r and s lie in [1, n-1], as any ECDSA signature's must. */
export function inRange(signature: RawSignature): boolean {
  return signature.r > 0n && signature.r < SECP256K1_N && signature.s > 0n && signature.s < SECP256K1_N;
}

/** The same signature with s in the lower half: (r, n - s) verifies wherever (r, s) does. */
export function toLowS(signature: RawSignature): RawSignature {
  return signature.s > HALF_N ? { r: signature.r, s: SECP256K1_N - signature.s } : signature;
}

export function isLowS(signature: RawSignature): boolean {
  return signature.s <= HALF_N;
}

/**
 * The recovery bit under which `signature` over `hash` recovers to `address`, or null when neither
 * does (the signature is not one of `address` over this hash).
 */
export async function recoveryParity(hash: Hex, signature: RawSignature, address: string): Promise<0 | 1 | null> {
  if (!inRange(signature)) return null;
  const expected = address.toLowerCase();
  for (const yParity of [0, 1] as const) {
    try {
      const recovered = await recoverAddress({ hash, signature: { r: toHex32(signature.r), s: toHex32(signature.s), yParity } });
      if (recovered.toLowerCase() === expected) return yParity;
    } catch {
      // r is not the x coordinate of a curve point under this parity
    }
  }
  return null;
}

/**
 * The Ethereum signature an HSM's raw answer stands for: low-S, with the recovery bit that gives
 * back `address`; null when the answer is not a valid signature of `address` over `hash`.
 */
export async function ethereumSignatureOf(hash: Hex, raw: Uint8Array, address: string): Promise<EthereumSignature | null> {
  let split: RawSignature;
  try {
    split = splitRawSignature(raw);
  } catch {
    return null;
  }
  const low = toLowS(split);
  const yParity = await recoveryParity(hash, low, address);
  return yParity === null ? null : { r: toHex32(low.r), s: toHex32(low.s), yParity };
}

/** The address of an uncompressed secp256k1 public point (0x04 ‖ X ‖ Y), as PKCS#11 holds it in CKA_EC_POINT. */
export function ecPointOf(attribute: Uint8Array): Uint8Array {
  // CKA_EC_POINT is the DER OCTET STRING of the point; some modules give the bare point.
  if (attribute.length === 67 && attribute[0] === 0x04 && attribute[1] === 0x41 && attribute[2] === 0x04) return attribute.subarray(2);
  if (attribute.length === 65 && attribute[0] === 0x04) return attribute;
  throw new Error(`not an uncompressed secp256k1 point (${attribute.length} bytes)`);
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
}

function toHex32(value: bigint): Hex {
  return `0x${value.toString(16).padStart(64, "0")}`;
}
