import { InternalRpcError, RpcRequestError, encodeErrorResult, parseAbi } from "viem";
import { describe, expect, it } from "vitest";
import { classifyChainError, decodeRevertData } from "../../shared/evm/classify-error.ts";

const rpcError = (message: string) =>
  new InternalRpcError(new RpcRequestError({ body: {}, url: "http://rpc", error: { code: -32000, message } }));

describe("classifyChainError", () => {
  it("recognises a node's nonce-too-low answer to a raw send as NONCE_TOO_LOW", () => {
    expect(classifyChainError(rpcError("nonce too low"))).toMatchObject({ code: "NONCE_TOO_LOW", terminal: false });
  });

  it("treats insufficient funds as terminal", () => {
    expect(classifyChainError(rpcError("insufficient funds for gas * price + value"))).toMatchObject({ code: "INSUFFICIENT_FUNDS", terminal: true });
  });

  it("treats an unknown RPC failure as retryable", () => {
    expect(classifyChainError(rpcError("upstream connect error"))).toMatchObject({ code: "RPC_UNAVAILABLE", terminal: false });
    expect(classifyChainError(new Error("socket hang up"))).toMatchObject({ code: "RPC_UNAVAILABLE", terminal: false });
  });
});

describe("decodeRevertData", () => {
  it("decodes Error(string) and Panic(uint256) payloads and leaves custom errors alone", () => {
    const abi = parseAbi(["error Error(string)", "error Panic(uint256)", "error Custom(uint256)"]);
    expect(decodeRevertData(encodeErrorResult({ abi, errorName: "Error", args: ["limit exceeded"] }))).toBe("limit exceeded");
    expect(decodeRevertData(encodeErrorResult({ abi, errorName: "Panic", args: [0x11n] }))).toBe("panic 0x11");
    expect(decodeRevertData(encodeErrorResult({ abi, errorName: "Custom", args: [1n] }))).toBeUndefined();
  });
});
