/**
 * Webhook signing secrets are stored encrypted: AES-256-GCM with a key from the configuration
 * (WEBHOOK_SECRET_KEYS), a fresh 96-bit nonce per secret, and the subscription id as additional
 * authenticated data, so a sealed secret copied onto another subscription does not open.
 *
 * Sealed form: `v1:<keyId>:<nonce, base64url>:<ciphertext and 16-byte tag, base64url>`.
 *
 * The configuration holds a key ring, `id:base64key[,id:base64key…]`: the first key seals, every
 * key opens. Rotating the key: put a new key first and restart, run `npm run webhooks:reseal` (which
 * re-seals every stored secret with the first key), then drop the old key.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { WebhookSecret } from "../db/schema/webhooks.ts";

export type SecretKeyRing = { current: string; keys: ReadonlyMap<string, Buffer> };

export type WebhookSecretBox = {
  /** Id of the key that seals. */
  readonly currentKeyId: string;
  seal(plaintext: string, subscriptionId: string): string;
  /** Throws when the key is unknown or the ciphertext, nonce, tag or subscription id do not match. */
  open(sealed: string, subscriptionId: string): string;
  /** Whether `sealed` was sealed with a key other than the current one. */
  needsReseal(sealed: string): boolean;
};

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const SEALED = /^v1:([A-Za-z0-9_-]{1,32}):([A-Za-z0-9_-]+):([A-Za-z0-9_-]+)$/;

/** Parses WEBHOOK_SECRET_KEYS; throws naming the bad entry (never its key material). */
export function parseSecretKeyRing(value: string): SecretKeyRing {
  const keys = new Map<string, Buffer>();
  let current: string | undefined;
  for (const [index, entry] of value.split(",").map((part) => part.trim()).filter((part) => part.length > 0).entries()) {
    const separator = entry.indexOf(":");
    const id = entry.slice(0, separator);
    const key = Buffer.from(entry.slice(separator + 1), "base64");
    if (separator < 1 || !KEY_ID.test(id)) throw new Error(`entry ${index + 1} must be id:base64key with an id of letters, digits, _ or - (at most 32)`);
    if (key.length !== 32) throw new Error(`the key of "${id}" must be 32 bytes in base64 (openssl rand -base64 32)`);
    if (keys.has(id)) throw new Error(`the key id "${id}" appears twice`);
    keys.set(id, key);
    current ??= id;
  }
  if (!current) throw new Error("must hold at least one id:base64key entry");
  return { current, keys };
}

/** A fresh key-ring entry, `<id>:<32 random bytes in base64>`. */
export function generateSecretKeyEntry(id: string): string {
  return `${id}:${randomBytes(32).toString("base64")}`;
}

const aad = (subscriptionId: string) => Buffer.from(`ddwf-webhook-secret:${subscriptionId}`, "utf8");

export function createWebhookSecretBox(ring: SecretKeyRing): WebhookSecretBox {
  const keyOf = (id: string) => {
    const key = ring.keys.get(id);
    if (!key) throw new Error(`the webhook secret was sealed with key "${id}", which WEBHOOK_SECRET_KEYS does not hold`);
    return key;
  };
  return {
    currentKeyId: ring.current,
    seal(plaintext, subscriptionId) {
      const nonce = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", keyOf(ring.current), nonce);
      cipher.setAAD(aad(subscriptionId));
      const sealed = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
      return `v1:${ring.current}:${nonce.toString("base64url")}:${sealed.toString("base64url")}`;
    },
    open(sealed, subscriptionId) {
      const match = SEALED.exec(sealed);
      if (!match) throw new Error("the stored webhook secret is not in the sealed v1 form");
      const [, id, nonce, body] = match as unknown as [string, string, string, string];
      const bytes = Buffer.from(body, "base64url");
      if (bytes.length < 17) throw new Error("the stored webhook secret is truncated");
      const decipher = createDecipheriv("aes-256-gcm", keyOf(id), Buffer.from(nonce, "base64url"));
      decipher.setAAD(aad(subscriptionId));
      decipher.setAuthTag(bytes.subarray(bytes.length - 16));
      try {
        return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]).toString("utf8");
      } catch {
        throw new Error("the stored webhook secret does not open with its key (tampered, or sealed for another subscription)");
      }
    },
    needsReseal(sealed) {
      return SEALED.exec(sealed)?.[1] !== ring.current;
    },
  };
}

/**
 * The plaintext secrets a delivery signs with now: every stored secret not yet expired, opened.
 * Without a key ring nothing can be opened, which fails the attempt (and says why).
 */
export function openActiveSecrets(box: WebhookSecretBox | undefined, subscriptionId: string, stored: readonly WebhookSecret[], now: number): string[] {
  const active = stored.filter((secret) => !secret.expiresAt || Date.parse(secret.expiresAt) > now);
  const sealed = active.flatMap((secret) => (secret.ciphertext ? [secret.ciphertext] : []));
  if (sealed.length < active.length) throw new Error("the subscription holds a secret stored in clear; run npm run webhooks:reseal");
  if (sealed.length > 0 && !box) throw new Error("WEBHOOK_SECRET_KEYS is not configured: the subscription's secrets cannot be opened");
  return sealed.map((ciphertext) => box!.open(ciphertext, subscriptionId));
}
