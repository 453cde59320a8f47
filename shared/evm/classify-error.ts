/**
 * Classifies chain errors with viem's typed errors (walked through the cause chain), never by
 * message text. Terminal means: the same request will fail the same way, so do not retry.
 */
import {
  BaseError,
  ContractFunctionRevertedError,
  ExecutionRevertedError,
  FeeCapTooLowError,
  InsufficientFundsError,
  IntrinsicGasTooHighError,
  IntrinsicGasTooLowError,
  NonceTooHighError,
  NonceTooLowError,
  TipAboveFeeCapError,
  TransactionTypeNotSupportedError,
  decodeErrorResult,
  isHex,
  parseAbi,
  type Hex,
} from "viem";
import { getNodeError } from "viem/utils";

export type ChainErrorCode =
  | "NONCE_TOO_LOW"
  | "NONCE_TOO_HIGH"
  | "INSUFFICIENT_FUNDS"
  | "EXECUTION_REVERTED"
  | "FEE_CAP_TOO_LOW"
  | "GAS_LIMIT_INVALID"
  | "TRANSACTION_TYPE_UNSUPPORTED"
  | "RPC_UNAVAILABLE";

export type ChainErrorClass = { code: ChainErrorCode; terminal: boolean; message: string; revertReason?: string };

export function classifyChainError(error: unknown): ChainErrorClass {
  const message = error instanceof BaseError ? error.shortMessage : error instanceof Error ? error.message : String(error);
  if (!(error instanceof BaseError)) return { code: "RPC_UNAVAILABLE", terminal: false, message };
  // Raw JSON-RPC calls (eth_sendRawTransaction) come back as plain RPC errors; viem's getNodeError
  // maps the node's answer onto its typed errors, which are then found by walking the chain.
  const normalized = getNodeError(error, {});
  const found = (type: abstract new (...args: never[]) => unknown) =>
    (error.walk((e) => e instanceof type) ?? normalized.walk((e) => e instanceof type)) as BaseError | null;
  if (found(NonceTooLowError)) return { code: "NONCE_TOO_LOW", terminal: false, message };
  if (found(NonceTooHighError)) return { code: "NONCE_TOO_HIGH", terminal: false, message };
  if (found(InsufficientFundsError)) return { code: "INSUFFICIENT_FUNDS", terminal: true, message };
  const reverted = found(ContractFunctionRevertedError) ?? found(ExecutionRevertedError);
  if (reverted) return { code: "EXECUTION_REVERTED", terminal: true, message, revertReason: revertReasonOf(reverted) };
  if (found(FeeCapTooLowError) || found(TipAboveFeeCapError)) return { code: "FEE_CAP_TOO_LOW", terminal: false, message };
  if (found(IntrinsicGasTooLowError) || found(IntrinsicGasTooHighError)) return { code: "GAS_LIMIT_INVALID", terminal: true, message };
  if (found(TransactionTypeNotSupportedError)) return { code: "TRANSACTION_TYPE_UNSUPPORTED", terminal: true, message };
  return { code: "RPC_UNAVAILABLE", terminal: false, message };
}

function revertReasonOf(error: BaseError): string | undefined {
  if (error instanceof ContractFunctionRevertedError && error.reason) return error.reason;
  const data = revertDataOf(error);
  return (data && decodeRevertData(data)) ?? error.shortMessage;
}

/** The revert payload the node attached to the error, wherever in the cause chain it sits. */
function revertDataOf(error: BaseError): Hex | undefined {
  let data: Hex | undefined;
  error.walk((e) => {
    const candidate = (e as { data?: unknown }).data;
    const hex = typeof candidate === "string" ? candidate : (candidate as { data?: unknown } | undefined)?.data;
    if (typeof hex === "string" && isHex(hex) && hex.length >= 10) {
      data = hex;
      return true;
    }
    return false;
  });
  return data;
}

const STANDARD_ERRORS = parseAbi(["error Error(string reason)", "error Panic(uint256 code)"]);

/** Decodes `Error(string)` and `Panic(uint256)` payloads; undefined for custom errors. */
export function decodeRevertData(data: Hex): string | undefined {
  try {
    const decoded = decodeErrorResult({ abi: STANDARD_ERRORS, data });
    return decoded.errorName === "Error" ? String(decoded.args[0]) : `panic 0x${(decoded.args[0] as bigint).toString(16)}`;
  } catch {
    return undefined;
  }
}
