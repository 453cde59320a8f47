import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { ISSUANCE_ARTIFACTS_FILE, renderIssuanceArtifacts } from "../../infra/contracts/issuance-artifacts.ts";

describe("asset issuance artifacts", () => {
  it("are what solc compiles from contracts/ now (else run npm run contracts:artifacts)", async () => {
    expect(await readFile(ISSUANCE_ARTIFACTS_FILE, "utf8")).toBe(await renderIssuanceArtifacts());
  });
});
