import { describe, expect, it } from "vitest";
import { describeRequestIssues, issuanceRequestSchema, type IssuanceRequestInput } from "../../services/workflows/asset-issuance/request.ts";

const valid: IssuanceRequestInput = {
  organizationId: "org-1",
  chainId: 31337,
  identityRegistry: "0x00000000000000000000000000000000000000AA",
  issuer: { signerAddress: "0x00000000000000000000000000000000000000EE", executor: { route: "eoa" } },
  token: { name: "Bond", symbol: "BND", decimals: 18 },
  allocations: [
    { investor: "0x00000000000000000000000000000000000000A1", amount: "1000" },
    { investor: "0x00000000000000000000000000000000000000b2", amount: "1" },
  ],
  compliance: { maxHolders: 2, allowedJurisdictions: [56] },
};

const issuesOf = (input: unknown) => {
  const parsed = issuanceRequestSchema.safeParse(input);
  return parsed.success ? [] : describeRequestIssues(parsed.error);
};

describe("asset issuance request", () => {
  it("accepts a valid request and gives its addresses in lower case", () => {
    const parsed = issuanceRequestSchema.parse(valid);
    expect(parsed.identityRegistry).toBe("0x00000000000000000000000000000000000000aa");
    expect(parsed.allocations[0]?.investor).toBe("0x00000000000000000000000000000000000000a1");
  });

  it("names the field of a malformed address", () => {
    expect(issuesOf({ ...valid, allocations: [{ investor: "0x12", amount: "1" }] })).toEqual(["allocations.0.investor: must be a 20-byte hex address"]);
  });

  it("refuses a zero or non-integer amount", () => {
    expect(issuesOf({ ...valid, allocations: [{ investor: valid.allocations[0]!.investor, amount: "0" }] })).toEqual([
      "allocations.0.amount: must be above 0 and below 2^256",
    ]);
    expect(issuesOf({ ...valid, allocations: [{ investor: valid.allocations[0]!.investor, amount: "1.5" }] })[0]).toMatch(/^allocations\.0\.amount: must be an integer/);
  });

  it("refuses the same investor twice, whatever the case of the address", () => {
    const investor = valid.allocations[0]!.investor;
    expect(issuesOf({ ...valid, allocations: [{ investor, amount: "1" }, { investor: investor.toLowerCase(), amount: "2" }] })).toEqual([
      "allocations.1.investor: appears twice; give each investor one allocation",
    ]);
  });

  it("refuses a holder limit below the number of investors of the initial allocation", () => {
    expect(issuesOf({ ...valid, compliance: { maxHolders: 1, allowedJurisdictions: [56] } })).toEqual([
      "compliance.maxHolders: is 1, below the 2 investors of the initial allocation",
    ]);
  });

  it("refuses unknown fields, an empty allocation and an unsupported decimals count", () => {
    expect(issuesOf({ ...valid, extra: true })).toHaveLength(1);
    expect(issuesOf({ ...valid, allocations: [] })[0]).toMatch(/^allocations:/);
    expect(issuesOf({ ...valid, token: { ...valid.token, decimals: 19 } })[0]).toMatch(/^token\.decimals:/);
  });
});
