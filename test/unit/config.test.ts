import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../shared/config.ts";

describe("loadConfig", () => {
  it("applies the documented defaults to an empty environment", () => {
    const config = loadConfig({});
    expect(config.RESTATE_INGRESS_URL).toBe("http://127.0.0.1:8080");
    expect(config.RESTATE_ADMIN_URL).toBe("http://127.0.0.1:9070");
    expect(config.WORKER_PORT).toBe(9080);
    expect(config.DAPI_PORT).toBe(3000);
    expect(config.OPS_PORT).toBe(9464);
    expect(config.CHAIN_RPC_URL).toBe("http://127.0.0.1:8545");
    expect(config.CHAIN_ID).toBe(31337);
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.explicit).toEqual({ restateAdmin: false, chainRpc: false, database: false });
  });

  it("derives the advertised worker URL from host and port", () => {
    expect(loadConfig({ WORKER_PORT: "9999" }).WORKER_ADVERTISED_URL).toBe("http://127.0.0.1:9999");
  });

  it("names every bad variable and why in one error", () => {
    let caught: unknown;
    try {
      loadConfig({ WORKER_PORT: "ninety", RESTATE_ADMIN_URL: "ftp://nope", WORKER_AUTO_REGISTER: "maybe" });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.problems.map((p) => p.variable).sort()).toEqual(["RESTATE_ADMIN_URL", "WORKER_AUTO_REGISTER", "WORKER_PORT"]);
    expect(error.message).toContain("WORKER_PORT");
    expect(error.message).toContain('"ninety"');
    expect(error.message).toContain("must be true or false");
  });

  it("turns the custody route on only with both the Fireblocks API key and its secret key file", () => {
    expect(loadConfig({}).FIREBLOCKS_API_KEY).toBeUndefined();
    expect(() => loadConfig({ FIREBLOCKS_API_KEY: "fb-key" })).toThrowError(/FIREBLOCKS_SECRET_KEY_PATH: must be set when FIREBLOCKS_API_KEY is/);
    expect(() => loadConfig({ FIREBLOCKS_SECRET_KEY_PATH: "/run/secrets/fb.pem" })).toThrowError(/FIREBLOCKS_API_KEY: must be set/);
    const config = loadConfig({ FIREBLOCKS_API_KEY: "fb-key", FIREBLOCKS_SECRET_KEY_PATH: "/run/secrets/fb.pem" });
    expect(config.FIREBLOCKS_BASE_PATH).toBe("https://api.fireblocks.io/v1");
    expect(config.FIREBLOCKS_ASSET_ID).toBe("ETH");
  });

  it("refuses a custody poll cap below the first interval", () => {
    expect(() => loadConfig({ CUSTODY_POLL_INTERVAL_MS: "5000", CUSTODY_POLL_MAX_INTERVAL_MS: "1000" })).toThrowError(/CUSTODY_POLL_MAX_INTERVAL_MS/);
  });

  it("never repeats a secret value in its error message", () => {
    expect(() => loadConfig({ DAPI_BOOTSTRAP_API_KEY: "short-secret" })).toThrowError(/DAPI_BOOTSTRAP_API_KEY.*<redacted>/);
    expect(() => loadConfig({ DAPI_BOOTSTRAP_API_KEY: "short-secret" })).not.toThrowError(/short-secret/);
  });

  it("redacts the password of a malformed database URL", () => {
    expect(() => loadConfig({ DATABASE_URL: "mysql://user:hunter2@db/x" })).not.toThrowError(/hunter2/);
  });

  it("treats empty variables as unset so compose files can leave them blank", () => {
    expect(loadConfig({ DATABASE_URL: "", CHAIN_RPC_URL: " " }).explicit).toEqual({ restateAdmin: false, chainRpc: false, database: false });
  });

  it("marks configured external parts as explicit so npm start skips them", () => {
    const config = loadConfig({
      RESTATE_ADMIN_URL: "http://restate:9070/",
      CHAIN_RPC_URL: "http://chain:8545",
      DATABASE_URL: "postgres://postgres@db:5432/ddwf",
    });
    expect(config.explicit).toEqual({ restateAdmin: true, chainRpc: true, database: true });
    expect(config.RESTATE_ADMIN_URL).toBe("http://restate:9070");
  });

  describe("the sign-only route", () => {
    const signer = "0x00000000000000000000000000000000000000aa";
    const approvers = ["0x00000000000000000000000000000000000000a1", "0x00000000000000000000000000000000000000B2", "0x00000000000000000000000000000000000000c3"];
    const hsm = { HSM_TOKEN_LABEL: "ddwf", HSM_PIN: "123456" };
    const policies = (entry: Record<string, unknown>) => JSON.stringify({ [signer]: entry });

    it("parses each signer's approvers, threshold and expiry", () => {
      const config = loadConfig({ ...hsm, SIGN_ONLY_POLICIES: policies({ approvers, threshold: 2, expiresAfterSeconds: 600 }) });
      expect(config.SIGN_ONLY_POLICIES).toEqual({
        [signer]: { signer, approvers: approvers.map((approver) => approver.toLowerCase()), threshold: 2, expiresAfterMs: 600_000 },
      });
    });

    it("turns the route on only with both the token label and its PIN", () => {
      expect(() => loadConfig({ HSM_TOKEN_LABEL: "ddwf" })).toThrowError(/HSM_PIN: must be set when HSM_TOKEN_LABEL is/);
      expect(() => loadConfig({ HSM_PIN: "123456" })).toThrowError(/HSM_TOKEN_LABEL: must be set when HSM_PIN is/);
      expect(() => loadConfig({ SIGN_ONLY_POLICIES: policies({ approvers, threshold: 2, expiresAfterSeconds: 600 }) })).toThrowError(/SIGN_ONLY_POLICIES: needs HSM_TOKEN_LABEL/);
    });

    it("names the signer and the field of a bad policy", () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ approvers, threshold: 4, expiresAfterSeconds: 600 }, /SIGN_ONLY_POLICIES: 0x0+aa\.threshold: must be at most the number of approvers \(3\)/],
        [{ approvers: ["0x12"], threshold: 1, expiresAfterSeconds: 600 }, /SIGN_ONLY_POLICIES: 0x0+aa\.approvers\.0: must be a 0x address/],
        [{ approvers: [approvers[0], approvers[0]], threshold: 1, expiresAfterSeconds: 600 }, /0x0+aa\.approvers: names an approver twice/],
        [{ approvers, threshold: 2 }, /0x0+aa\.expiresAfterSeconds: /],
        [{ approvers, threshold: 2, expiresAfterSeconds: 600, quorum: 2 }, /0x0+aa\.\(entry\): unknown field quorum/],
      ];
      for (const [entry, message] of cases) expect(() => loadConfig({ ...hsm, SIGN_ONLY_POLICIES: policies(entry) })).toThrowError(message);
      expect(() => loadConfig({ ...hsm, SIGN_ONLY_POLICIES: "{not json" })).toThrowError(/SIGN_ONLY_POLICIES: must be JSON/);
      expect(() => loadConfig({ ...hsm, SIGN_ONLY_POLICIES: JSON.stringify({ "not-an-address": {} }) })).toThrowError(/not-an-address: the key must be a signer's 0x address/);
    });

    it("never repeats the HSM PIN in an error message", () => {
      expect(() => loadConfig({ HSM_TOKEN_LABEL: "ddwf", HSM_PIN: "123" })).toThrowError(/HSM_PIN: must be at least 4 characters \(got "<redacted>"\)/);
    });
  });
});
