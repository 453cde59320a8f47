import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../shared/config.ts";
import { ensureRequestIdentityKeys, identityPublicKeyOfPem, PUBLIC_KEY_FILE } from "../../shared/restate/request-identity.ts";

/** The key pair of restate-server's own tests (crates/service-client request_identity/v1.rs). */
const RESTATE_TEST_KEY = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIPe++4ZTPQDF81otpoU/mOGHC2vOAVp9WbiCblvn3nXO
-----END PRIVATE KEY-----`;

describe("request identity keys", () => {
  it("spells a public key the way restate-server does", () => {
    expect(identityPublicKeyOfPem(RESTATE_TEST_KEY)).toBe("publickeyv1_AfQwmwfgEZhrWpvv8N52SHpRtZqGGaFr4AZN6qtYWSiY");
  });

  it("creates a key pair once, private key readable by its owner only, public key beside the worker", async () => {
    const privateDir = await mkdtemp(join(tmpdir(), "identity-private-"));
    const publicDir = await mkdtemp(join(tmpdir(), "identity-public-"));

    const first = await ensureRequestIdentityKeys(privateDir, publicDir);
    const second = await ensureRequestIdentityKeys(privateDir, publicDir);

    expect(second).toEqual(first);
    expect((await stat(first.privateKeyFile)).mode & 0o777).toBe(0o600);
    expect((await readFile(join(publicDir, PUBLIC_KEY_FILE), "utf8")).trim()).toBe(first.publicKey);
  });

  it("takes RESTATE_IDENTITY_KEYS as a comma-separated list and refuses anything else", () => {
    const keys = "publickeyv1_AfQwmwfgEZhrWpvv8N52SHpRtZqGGaFr4AZN6qtYWSiY, publickeyv1_9e1D3VBj55o7KuQyowWboBYkHkcEGjBPshFtxdQKVdaB";
    expect(loadConfig({ RESTATE_IDENTITY_KEYS: keys }).RESTATE_IDENTITY_KEYS).toHaveLength(2);
    expect(() => loadConfig({ RESTATE_IDENTITY_KEYS: "ed25519:abc" })).toThrow(/RESTATE_IDENTITY_KEYS/);
  });
});
