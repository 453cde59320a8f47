/**
 * The chain writes of an issuance as call data, from the request alone: pure functions, so the
 * same request always yields the same transactions (a replay stores exactly what the first run did).
 */
import { encodeDeployData, encodeFunctionData, type Hex } from "viem";
import { assetTokenAbi, assetTokenBytecode, identityRegistryAbi, tokenComplianceAbi } from "../../../shared/evm/contracts/asset-issuance-artifacts.ts";
import type { IssuanceRequest } from "./request.ts";

/** One chain write: `target` null creates a contract. */
export type ChainWrite = { step: string; target: Hex | null; data: Hex };

/** Contract creation of the token; its constructor creates the compliance contract. */
export function deployTokenWrite(request: IssuanceRequest): ChainWrite {
  const data = encodeDeployData({
    abi: assetTokenAbi,
    bytecode: assetTokenBytecode,
    args: [
      request.token.name,
      request.token.symbol,
      request.token.decimals,
      request.tokenAdmin ?? request.issuer.signerAddress,
      request.issuer.signerAddress,
      request.identityRegistry,
    ],
  });
  return { step: "deploy", target: null, data };
}

export function configureComplianceWrite(request: IssuanceRequest, compliance: Hex): ChainWrite {
  const data = encodeFunctionData({
    abi: tokenComplianceAbi,
    functionName: "configure",
    args: [BigInt(request.compliance.maxHolders), request.compliance.allowedJurisdictions],
  });
  return { step: "compliance", target: compliance, data };
}

export function mintWrite(request: IssuanceRequest, index: number, token: Hex): ChainWrite {
  const allocation = request.allocations[index];
  if (!allocation) throw new RangeError(`no allocation ${index}`);
  const data = encodeFunctionData({ abi: assetTokenAbi, functionName: "mint", args: [allocation.investor, BigInt(allocation.amount)] });
  return { step: `mint-${index}`, target: token, data };
}

export function registerTokenWrite(request: IssuanceRequest, token: Hex): ChainWrite {
  const data = encodeFunctionData({ abi: identityRegistryAbi, functionName: "registerToken", args: [token] });
  return { step: "register", target: request.identityRegistry, data };
}

/** The compensation: stops transfers and mints of the token. */
export function pauseTokenWrite(token: Hex): ChainWrite {
  return { step: "pause", target: token, data: encodeFunctionData({ abi: assetTokenAbi, functionName: "pause" }) };
}

/** The steps an issuance runs after the deployment, in order (what an operator may find not done). */
export function stepsAfterDeployment(request: IssuanceRequest): string[] {
  return ["compliance", ...request.allocations.map((_, index) => `mint-${index}`), "register"];
}
