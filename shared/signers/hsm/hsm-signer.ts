/**
 * The signer of the sign-only route: a `SignerRegistry` whose keys live in a PKCS#11 token. Each
 * transaction is serialised, hashed (keccak-256) and the digest signed with CKM_ECDSA in the
 * token; the answer is checked before it is used (ethereumSignatureOf: low-S, recovery bit found
 * by recovering the signer's address). An answer that is not a valid signature of the signer is
 * dropped and the digest signed again, a few times at most; it never reaches the chain.
 */
import { keccak256, serializeTransaction, type Hex, type TransactionSerializableEIP1559 } from "viem";
import type { SignerRegistry } from "../signer-registry.ts";
import { HsmError, type HsmToken } from "./pkcs11-token.ts";
import { ethereumSignatureOf } from "./signature.ts";

/** Signing attempts per digest before the token counts as failing (SoftHSMv2 issue 901 is rare). */
export const HSM_SIGN_ATTEMPTS = 8;

export type HsmSigner = SignerRegistry & {
  readonly tokenLabel: string;
  /** Invalid answers of the token so far (signed again each time). */
  invalidSignatures(): number;
  close(): void;
};

export type HsmSignerParameters = {
  token: Pick<HsmToken, "tokenLabel" | "keys" | "rescan" | "signDigest" | "close">;
  /** Told of each invalid answer, before the digest is signed again. */
  onInvalidSignature?: (address: string) => void;
};

export function createHsmSigner(parameters: HsmSignerParameters): HsmSigner {
  const { token } = parameters;
  let invalid = 0;
  const known = () => new Set(token.keys().map((key) => key.address.toLowerCase()));
  let addresses = known();

  /** A checked Ethereum signature of `address` over `hash`. */
  const signHash = async (address: string, hash: Hex) => {
    const digest = Buffer.from(hash.slice(2), "hex");
    for (let attempt = 1; attempt <= HSM_SIGN_ATTEMPTS; attempt++) {
      const raw = token.signDigest(address, digest);
      const signature = await ethereumSignatureOf(hash, raw, address);
      if (signature) return signature;
      invalid += 1;
      parameters.onInvalidSignature?.(address);
    }
    throw new HsmError(`token "${token.tokenLabel}" gave ${HSM_SIGN_ATTEMPTS} invalid signatures in a row for ${address}`);
  };

  return {
    tokenLabel: token.tokenLabel,
    has: (address) => {
      if (addresses.has(address.toLowerCase())) return true;
      // A key made after start (npm run hsm:key while the worker runs) is found on the next look.
      token.rescan();
      addresses = known();
      return addresses.has(address.toLowerCase());
    },
    addresses: () => [...addresses],
    signTransaction: async (address: string, transaction: TransactionSerializableEIP1559) => {
      const signature = await signHash(address, keccak256(serializeTransaction(transaction)));
      return serializeTransaction(transaction, signature);
    },
    invalidSignatures: () => invalid,
    close: () => token.close(),
  };
}
