import { describe, expect, it } from "vitest";
import { classifyAddress } from "../../shared/http/address-class.ts";
import { createWebhookSecretBox, generateSecretKeyEntry, openActiveSecrets, parseSecretKeyRing } from "../../shared/webhooks/secret-box.ts";
import { guardedLookup, webhookUrlProblem, WEBHOOK_ADDRESS_REFUSED } from "../../shared/webhooks/target-policy.ts";

const ring = (value: string) => createWebhookSecretBox(parseSecretKeyRing(value));
const OLD = generateSecretKeyEntry("old");
const NEW = generateSecretKeyEntry("new");

describe("webhook secrets sealed at rest", () => {
  it("opens what it sealed, for the same subscription only", () => {
    const box = ring(OLD);
    const sealed = box.seal("whsec_abc", "sub_1");

    expect(sealed).toMatch(/^v1:old:/);
    expect(sealed).not.toContain("abc");
    expect(box.open(sealed, "sub_1")).toBe("whsec_abc");
    expect(() => box.open(sealed, "sub_2")).toThrow(/does not open/);
  });

  it("refuses a tampered ciphertext", () => {
    const box = ring(OLD);
    const sealed = box.seal("whsec_abc", "sub_1");
    const tampered = `${sealed.slice(0, -2)}${sealed.endsWith("AA") ? "AB" : "AA"}`;
    expect(() => box.open(tampered, "sub_1")).toThrow();
  });

  it("rotates keys: a new first key seals, the old one still opens, and what it sealed needs resealing", () => {
    const sealedWithOld = ring(OLD).seal("whsec_abc", "sub_1");
    const rotated = ring(`${NEW},${OLD}`);

    expect(rotated.open(sealedWithOld, "sub_1")).toBe("whsec_abc");
    expect(rotated.needsReseal(sealedWithOld)).toBe(true);
    expect(rotated.needsReseal(rotated.seal("whsec_abc", "sub_1"))).toBe(false);
    expect(() => ring(NEW).open(sealedWithOld, "sub_1")).toThrow(/"old"/);
  });

  it("names a bad key ring entry without showing key material", () => {
    expect(() => parseSecretKeyRing("k1:c2hvcnQ=")).toThrow(/32 bytes/);
    expect(() => parseSecretKeyRing("no-colon")).toThrow(/id:base64key/);
    expect(() => parseSecretKeyRing(`${OLD},${OLD}`)).toThrow(/twice/);
  });

  it("signs with every secret not yet expired, and refuses one stored in clear", () => {
    const box = ring(OLD);
    const now = Date.parse("2030-01-01T00:00:00Z");
    const stored = [
      { ciphertext: box.seal("whsec_gone", "s"), createdAt: "2029-01-01T00:00:00Z", expiresAt: "2029-12-31T00:00:00Z" },
      { ciphertext: box.seal("whsec_old", "s"), createdAt: "2029-06-01T00:00:00Z", expiresAt: "2030-01-02T00:00:00Z" },
      { ciphertext: box.seal("whsec_new", "s"), createdAt: "2030-01-01T00:00:00Z" },
    ];
    expect(openActiveSecrets(box, "s", stored, now)).toEqual(["whsec_old", "whsec_new"]);
    expect(() => openActiveSecrets(box, "s", [{ secret: "whsec_plain", createdAt: "2030-01-01T00:00:00Z" }], now)).toThrow(/in clear/);
    expect(() => openActiveSecrets(undefined, "s", stored, now)).toThrow(/WEBHOOK_SECRET_KEYS/);
  });
});

describe("where webhooks may go", () => {
  const strict = { allowInsecure: false };
  const development = { allowInsecure: true };

  it("requires https and a public address unless the development setting allows otherwise", () => {
    expect(webhookUrlProblem("https://hooks.example.com/x", strict)).toBeNull();
    expect(webhookUrlProblem("http://hooks.example.com/x", strict)).toMatch(/https/);
    expect(webhookUrlProblem("https://127.0.0.1/x", strict)).toMatch(/loopback/);
    expect(webhookUrlProblem("https://[::ffff:10.0.0.1]/x", strict)).toMatch(/private/);
    expect(webhookUrlProblem("http://127.0.0.1:9/x", development)).toBeNull();
    expect(webhookUrlProblem("http://169.254.169.254/", development)).toMatch(/metadata/);
    expect(webhookUrlProblem("http://[fd00:ec2::254]/", development)).toMatch(/metadata/);
  });

  it("refuses the connection when the name resolves to a refused address at connection time", async () => {
    const lookup = guardedLookup(strict);
    const outcome = await new Promise<{ error: (Error & { code?: string }) | null }>((resolve) =>
      lookup("localhost", { all: true }, (error) => resolve({ error: error as (Error & { code?: string }) | null })),
    );
    expect(outcome.error?.code).toBe(WEBHOOK_ADDRESS_REFUSED);

    const allowed = await new Promise<unknown>((resolve) => guardedLookup(development)("localhost", { all: true }, (error, addresses) => resolve(error ?? addresses)));
    expect(allowed).toEqual(expect.arrayContaining([expect.objectContaining({ address: expect.any(String) as unknown })]));
  });

  it("judges IPv6 forms by the IPv4 address they carry", () => {
    expect(classifyAddress("::ffff:127.0.0.1")).toBe("loopback");
    expect(classifyAddress("::ffff:a9fe:a9fe")).toBe("metadata");
    expect(classifyAddress("64:ff9b::a00:1")).toBe("private");
    expect(classifyAddress("2002:c0a8:101::1")).toBe("private");
    expect(classifyAddress("2606:4700:4700::1111")).toBe("public");
  });
});
