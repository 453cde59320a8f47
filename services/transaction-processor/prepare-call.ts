/**
 * Checks a call before a nonce is spent on it and builds what is signed: a contract call gets the
 * attribution suffix, a target without code is refused, and the gas limit is estimated unless the
 * operation fixes it (a call that reverts in estimation is refused with its reason).
 */
import { concatHex, type Hex } from "viem";
import type { ChainAccess } from "../../shared/evm/chain-access.ts";
import { classifyChainError } from "../../shared/evm/classify-error.ts";
import { DomainTerminalError } from "../../shared/errors.ts";
import type { SignedCall, SubmittedOperation } from "./types.ts";

export async function prepareCall(chain: ChainAccess, signerAddress: Hex, operation: SubmittedOperation, attributionSuffix: Hex): Promise<SignedCall> {
  const isContractCall = operation.target !== null && operation.data !== "0x";
  if (isContractCall) {
    const code = await chain.client.getCode({ address: operation.target! });
    if (code === undefined || code === "0x") {
      throw new DomainTerminalError("TARGET_HAS_NO_CODE", `target ${operation.target} has no contract code on chain ${chain.chainId}`, { httpStatus: 422 });
    }
  }
  const data = isContractCall && attributionSuffix !== "0x" ? concatHex([operation.data, attributionSuffix]) : operation.data;
  if (operation.gasLimit) return { to: operation.target, data, value: operation.value, gas: operation.gasLimit };
  try {
    const estimate = await chain.client.estimateGas({ account: signerAddress, to: operation.target ?? undefined, data, value: BigInt(operation.value) });
    // Headroom for state that moves between estimation and inclusion.
    return { to: operation.target, data, value: operation.value, gas: ((estimate * 120n) / 100n).toString() };
  } catch (error) {
    const classified = classifyChainError(error);
    if (classified.code === "EXECUTION_REVERTED") throw new DomainTerminalError("EXECUTION_REVERTED", classified.revertReason ?? classified.message, { httpStatus: 422 });
    if (classified.terminal) throw new DomainTerminalError(classified.code, classified.message, { httpStatus: 422 });
    throw error;
  }
}
