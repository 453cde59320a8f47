/**
 * Restate request identity: restate-server signs every request it sends to a service endpoint
 * (discovery and invocations) with an ed25519 private key, as a JWT in `x-restate-jwt-v1`; the
 * worker is given the matching public key (RESTATE_IDENTITY_KEYS) and the SDK refuses any request
 * not signed by it, so only that Restate can call the worker.
 *
 * - restate-server: `[worker.invoker] request-identity-private-key-pem-file = "<pem>"` in its
 *   configuration, or RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE in its
 *   environment; the PEM holds exactly one PKCS#8 ed25519 key (`openssl genpkey -algorithm ed25519`).
 * - worker: RESTATE_IDENTITY_KEYS=publickeyv1_… (comma-separated to accept several, e.g. while the
 *   key is rotated or several Restate clusters call one worker).
 *
 * The public key's text form is `publickeyv1_` followed by the base58 (Bitcoin alphabet) of the 32
 * raw key bytes; restate-server logs the same string when it loads the private key.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const PUBLIC_KEY_PREFIX = "publickeyv1_";
export const IDENTITY_KEY_PATTERN = /^publickeyv1_[1-9A-HJ-NP-Za-km-z]{32,64}$/;
/** restate-server's environment variable for the signing key file. */
export const RESTATE_SIGNING_KEY_ENV = "RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE";

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

function base58(bytes: Uint8Array): string {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  let text = "";
  while (value > 0n) {
    text = BASE58[Number(value % 58n)]! + text;
    value /= 58n;
  }
  for (const byte of bytes) {
    if (byte !== 0) break;
    text = `1${text}`;
  }
  return text;
}

/** The `publickeyv1_…` form of an ed25519 public key (the raw 32 bytes end its SPKI encoding). */
export function identityPublicKey(key: KeyObject): string {
  const spki = createPublicKey(key).export({ type: "spki", format: "der" });
  return `${PUBLIC_KEY_PREFIX}${base58(spki.subarray(spki.length - 32))}`;
}

/** The public key that verifies what `privateKeyPem` signs. */
export function identityPublicKeyOfPem(privateKeyPem: string): string {
  return identityPublicKey(createPrivateKey(privateKeyPem));
}

/** A new key pair: the PKCS#8 PEM for restate-server and the public key for the worker. */
export function generateRequestIdentityKeys(): { privateKeyPem: string; publicKey: string } {
  const { privateKey } = generateKeyPairSync("ed25519");
  return { privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(), publicKey: identityPublicKey(privateKey) };
}

export const PRIVATE_KEY_FILE = "restate-identity.pem";
export const PUBLIC_KEY_FILE = "restate-identity.pub";

/**
 * The key pair kept in `privateDir` (created on first use, private key readable by its owner only),
 * with the public key written to `publicDir` too: the folder a worker may see holds no private key.
 */
export async function ensureRequestIdentityKeys(privateDir: string, publicDir = privateDir): Promise<{ privateKeyFile: string; publicKey: string }> {
  const privateKeyFile = join(privateDir, PRIVATE_KEY_FILE);
  let privateKeyPem: string;
  try {
    privateKeyPem = await readFile(privateKeyFile, "utf8");
  } catch {
    await mkdir(privateDir, { recursive: true });
    privateKeyPem = generateRequestIdentityKeys().privateKeyPem;
    await writeFile(privateKeyFile, privateKeyPem, { mode: 0o600, flag: "wx" }).catch(async (error: unknown) => {
      // Another process created it meanwhile: use theirs.
      if ((error as { code?: string }).code !== "EEXIST") throw error;
      privateKeyPem = await readFile(privateKeyFile, "utf8");
    });
  }
  const publicKey = identityPublicKeyOfPem(privateKeyPem);
  await mkdir(publicDir, { recursive: true });
  await writeFile(join(publicDir, PUBLIC_KEY_FILE), `${publicKey}\n`, { mode: 0o644 });
  return { privateKeyFile, publicKey };
}
