import { decodeDeployData, decodeFunctionData, getAddress, type Hex } from "viem";
import { describe, expect, it } from "vitest";
import { assetTokenAbi, assetTokenBytecode, tokenComplianceAbi } from "../../shared/evm/contracts/asset-issuance-artifacts.ts";
import { configureComplianceWrite, deployTokenWrite, mintWrite, pauseTokenWrite, stepsAfterDeployment } from "../../services/workflows/asset-issuance/calls.ts";
import { describeIneligible, ineligibleInvestors, noticesFor, operatorReport, sameRequest } from "../../services/workflows/asset-issuance/decisions.ts";
import { issuanceRequestSchema, type IssuanceRequest } from "../../services/workflows/asset-issuance/request.ts";
import type { IssuanceStatus, IssuanceStep } from "../../services/workflows/asset-issuance/types.ts";

const A = "0x00000000000000000000000000000000000000a1" as Hex;
const B = "0x00000000000000000000000000000000000000b2" as Hex;
const C = "0x00000000000000000000000000000000000000c3" as Hex;
const ISSUER = "0x00000000000000000000000000000000000000ee" as Hex;
const TOKEN = "0x00000000000000000000000000000000000000f0" as Hex;

const request: IssuanceRequest = issuanceRequestSchema.parse({
  organizationId: "org-1",
  chainId: 31337,
  identityRegistry: "0x0000000000000000000000000000000000000099",
  issuer: { signerAddress: ISSUER, executor: { route: "eoa" } },
  token: { name: "Bond", symbol: "BND", decimals: 2 },
  allocations: [
    { investor: A, amount: "100" },
    { investor: B, amount: "200" },
    { investor: C, amount: "300" },
  ],
  compliance: { maxHolders: 10, allowedJurisdictions: [56, 276] },
});

const step = (name: string, outcome: IssuanceStep["outcome"], error: IssuanceStep["error"] = null): IssuanceStep => ({
  step: name,
  transactionId: `iss-${name}`,
  outcome,
  txHash: outcome === "completed" ? (`0x${"ab".repeat(32)}` as Hex) : null,
  error,
});
const status = (steps: IssuanceStep[], change: Partial<IssuanceStatus> = {}): IssuanceStatus => ({
  issuanceId: "iss",
  stage: "compensating",
  tokenAddress: TOKEN,
  complianceAddress: null,
  steps,
  compensation: null,
  error: { code: "EXECUTION_REVERTED", message: "compliance: receiver not verified" },
  ...change,
});

describe("asset issuance: eligibility", () => {
  it("accepts verified investors from allowed jurisdictions", () => {
    expect(ineligibleInvestors([{ investor: A, verified: true, country: 56 }], [56, 276])).toEqual([]);
  });

  it("refuses an investor without a verified identity, whatever its country", () => {
    expect(ineligibleInvestors([{ investor: A, verified: false, country: 56 }], [56])).toEqual([{ investor: A, reason: "not-verified", country: 56 }]);
  });

  it("refuses a verified investor from a jurisdiction the rules do not allow, and says which", () => {
    const refused = ineligibleInvestors(
      [
        { investor: A, verified: true, country: 56 },
        { investor: B, verified: true, country: 840 },
      ],
      [56],
    );
    expect(refused).toEqual([{ investor: B, reason: "jurisdiction-not-allowed", country: 840 }]);
    expect(describeIneligible(refused)).toBe(`1 investor(s) not eligible: ${B} is in jurisdiction 840, which the rules do not allow`);
  });
});

describe("asset issuance: resubmission", () => {
  it("sees the same request whatever the key order it was stored with", () => {
    const stored = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(request).reverse())));
    expect(sameRequest(stored, request)).toBe(true);
  });

  it("sees a different request when any value differs", () => {
    expect(sameRequest(JSON.parse(JSON.stringify(request)), { ...request, token: { ...request.token, decimals: 3 } })).toBe(false);
  });
});

describe("asset issuance: notices", () => {
  it("tells each investor whether their allocation was minted, and the issuer the whole outcome", () => {
    const notices = noticesFor(request, status([step("deploy", "completed"), step("mint-0", "completed"), step("mint-1", "failed")]), "compensated");
    expect(notices.map((n) => [n.type, n.data.investor ?? n.data.issuer, n.data.minted, n.data.outcome])).toEqual([
      ["asset-issuance.investor-notice", A, true, "compensated"],
      ["asset-issuance.investor-notice", B, false, "compensated"],
      ["asset-issuance.investor-notice", C, false, "compensated"],
      ["asset-issuance.issuer-notice", ISSUER, undefined, "compensated"],
    ]);
    expect(notices[3]?.data).toMatchObject({ tokenAddress: TOKEN, error: { code: "EXECUTION_REVERTED" } });
  });
});

describe("asset issuance: the operator's report", () => {
  const failedPause = { kind: "needs-operator" as const, compensated: [], failed: { step: "pause", error: "token: caller is not an agent" }, remaining: [] };

  it("lists what is on chain, what failed, what never ran and what is left", () => {
    const report = operatorReport(
      request,
      status([step("deploy", "completed"), step("compliance", "completed"), step("mint-0", "failed"), step("pause", "failed")]),
      failedPause,
    );
    expect(report.done.map((d) => d.step)).toEqual(["deploy", "compliance"]);
    expect(report.failed.map((f) => f.step)).toEqual(["mint-0", "pause"]);
    expect(report.notRun).toEqual(["mint-1", "mint-2", "register"]);
    expect(report.left).toEqual([`pause: pause token ${TOKEN} as one of its agents (it failed: token: caller is not an agent)`]);
  });

  it("says where to find the token when its address was never read", () => {
    const report = operatorReport(request, status([step("deploy", "completed")], { tokenAddress: null }), failedPause);
    expect(report.left[0]).toContain("read it from the deploy transaction's receipt");
    expect(report.notRun).toEqual(stepsAfterDeployment(request));
  });
});

describe("asset issuance: chain writes", () => {
  it("creates the token with the issuer as agent and, without a token admin, as admin", () => {
    const write = deployTokenWrite(request);
    expect(write).toMatchObject({ step: "deploy", target: null });
    const { args } = decodeDeployData({ abi: assetTokenAbi, bytecode: assetTokenBytecode, data: write.data });
    expect(args).toEqual(["Bond", "BND", 2, getAddress(ISSUER), getAddress(ISSUER), getAddress("0x0000000000000000000000000000000000000099")]);
  });

  it("gives the token the admin the request names", () => {
    const { args } = decodeDeployData({ abi: assetTokenAbi, bytecode: assetTokenBytecode, data: deployTokenWrite({ ...request, tokenAdmin: C }).data });
    expect(args?.[3]).toBe(getAddress(C));
  });

  it("configures the compliance contract, mints each allocation and pauses the token", () => {
    const compliance = "0x00000000000000000000000000000000000000cc" as Hex;
    const configure = configureComplianceWrite(request, compliance);
    expect(configure.target).toBe(compliance);
    expect(decodeFunctionData({ abi: tokenComplianceAbi, data: configure.data })).toEqual({ functionName: "configure", args: [10n, [56, 276]] });
    const mint = mintWrite(request, 1, TOKEN);
    expect(mint).toMatchObject({ step: "mint-1", target: TOKEN });
    expect(decodeFunctionData({ abi: assetTokenAbi, data: mint.data })).toEqual({ functionName: "mint", args: [getAddress(B), 200n] });
    expect(decodeFunctionData({ abi: assetTokenAbi, data: pauseTokenWrite(TOKEN).data })).toEqual({ functionName: "pause", args: undefined });
  });
});
