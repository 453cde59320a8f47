import { describe, expect, it } from "vitest";
import { encodeErrorResult, parseAbi } from "viem";
import { ownerQuorumOutcome } from "../../services/workflows/transaction-execution/smart-wallet-state.ts";
import { readableRevert } from "../../shared/evm/erc4337/bundler-refusal.ts";

const owners = ["0xa", "0xb", "0xc"];
const userOperation = {
  userOpHash: "0x01",
  safeOperationHash: "0x02",
  entryPoint: "0xe",
  module: "0xm",
  chainId: 1,
  sender: "0xs",
  nonce: "0",
  factory: null,
  factoryData: null,
  callData: "0x",
  callGasLimit: "1",
  verificationGasLimit: "1",
  preVerificationGas: "1",
  maxFeePerGas: "1",
  maxPriorityFeePerGas: "1",
};
const wait = (decisions: { approver: string; decision: "approve" | "reject" }[]) =>
  ownerQuorumOutcome({ owners, threshold: 2, requestedAt: "2026-01-01T00:00:00.000Z", userOperation, decisions: decisions.map((d, i) => ({ ...d, at: `2026-01-01T00:00:0${i + 1}.000Z` })) });

describe("the owners' quorum of a smart-wallet transaction", () => {
  it("waits for the owners who have not decided while fewer than M signed", () => {
    const outcome = wait([{ approver: "0xa", decision: "approve" }]);
    expect(outcome).toMatchObject({ kind: "waiting", pending: ["0xb", "0xc"], approval: { route: "smart-wallet", state: "pending", quorum: { needed: 2, given: [{ approver: "0xa" }] } } });
  });

  it("releases at the M-th signature, naming the first M signers", () => {
    const outcome = wait([{ approver: "0xc", decision: "approve" }, { approver: "0xa", decision: "approve" }, { approver: "0xb", decision: "approve" }]);
    expect(outcome).toMatchObject({ kind: "approved", approvers: ["0xc", "0xa"], approval: { state: "approved", decidedAt: "2026-01-01T00:00:02.000Z" } });
  });

  it("keeps waiting after one rejection while M signatures can still come", () => {
    expect(wait([{ approver: "0xa", decision: "reject" }]).kind).toBe("waiting");
  });

  it("ends rejected once the rejections leave fewer owners than the threshold", () => {
    const outcome = wait([{ approver: "0xa", decision: "reject" }, { approver: "0xb", decision: "approve" }, { approver: "0xc", decision: "reject" }]);
    expect(outcome).toMatchObject({ kind: "rejected", by: ["0xa", "0xc"], approval: { state: "rejected", quorum: { rejectedBy: { approver: "0xc" } } } });
  });

  it("ignores decisions of addresses that are not owners", () => {
    expect(wait([{ approver: "0xd", decision: "approve" }, { approver: "0xe", decision: "approve" }]).kind).toBe("waiting");
  });
});

describe("a bundler's revert message", () => {
  it("reads Error(string) revert data as its text", () => {
    const data = encodeErrorResult({ abi: parseAbi(["error Error(string)"]), errorName: "Error", args: ["no thanks"] });
    expect(readableRevert(`UserOperation reverted during simulation with reason: ${data}`)).toBe("UserOperation reverted during simulation with reason: no thanks");
  });
});
