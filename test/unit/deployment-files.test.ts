import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { configVariables } from "../../shared/config.ts";

type ComposeService = { environment?: Record<string, string>; image?: string; build?: unknown; command?: string[]; volumes?: string[] };
type Compose = { services: Record<string, ComposeService>; "x-ddwf-env"?: Record<string, string> };

const compose = parse(readFileSync("docker-compose.yml", "utf8"), { merge: true }) as Compose;
const known = new Set<string>(configVariables);

describe("docker-compose.yml", () => {
  it("parses and describes Restate, PostgreSQL, the worker, the DAPI and Prometheus", () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(["restate", "postgres", "worker", "dapi", "prometheus"]));
  });

  it("gives the worker and the DAPI only variables the config schema knows", () => {
    for (const name of ["worker", "dapi"]) {
      const environment = compose.services[name]?.environment ?? {};
      expect(Object.keys(environment).length).toBeGreaterThan(0);
      const unknown = Object.keys(environment).filter((variable) => !known.has(variable));
      expect(unknown, `${name} sets variables missing from shared/config.ts`).toEqual([]);
    }
  });

  it("wires request identity: Restate signs with the generated key, the worker accepts only its public key", () => {
    const keyFile = compose.services.restate?.environment?.RESTATE_WORKER__INVOKER__REQUEST_IDENTITY_PRIVATE_KEY_PEM_FILE;
    expect(keyFile).toBe("/identity/restate-identity.pem");
    expect(compose.services["restate-identity"]?.command).toEqual(["node", "services/cli/request-identity-keys.ts", "/identity/private", "/identity/public"]);
    expect(compose.services.restate?.volumes).toContain("restate-identity-private:/identity:ro");
    expect(compose.services.worker?.volumes).toEqual(["restate-identity-public:/identity:ro"]);
    expect(compose.services.worker?.command?.join(" ")).toContain("RESTATE_IDENTITY_KEYS=$$(cat /identity/restate-identity.pub)");
  });

  it("keeps Restate's telemetry off", () => {
    expect(compose.services.restate?.environment).toMatchObject({ RESTATE_DISABLE_TELEMETRY: "true", DO_NOT_TRACK: "1" });
  });
});

describe("README configuration table", () => {
  const readme = readFileSync("README.md", "utf8");
  it("documents every configuration variable", () => {
    const undocumented = configVariables.filter((variable) => !readme.includes(`| \`${variable}\` |`));
    expect(undocumented).toEqual([]);
  });
});

describe("restate.toml", () => {
  it("disables telemetry", () => {
    expect(readFileSync("restate.toml", "utf8")).toMatch(/^disable-telemetry = true$/m);
  });
});
