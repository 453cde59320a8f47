import { encodeFunctionData, parseAbi, zeroAddress, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { approvalTypedData, checkApproval, type ApprovalDecision, type ApprovalSubject } from "../../shared/signers/approval-signature.ts";

const approvers = [1, 2, 3].map((n) => privateKeyToAccount(`0x${n.toString(16).padStart(64, "0")}` as Hex));
const outsider = privateKeyToAccount(`0x${"42".repeat(32)}`);
const policy = { approvers: approvers.map((account) => account.address.toLowerCase()) };

const subject: ApprovalSubject = {
  transactionId: "tx_approval_1",
  chainId: 31337,
  target: "0x5FbDB2315678afcceb367f032d93F642f64180aa",
  data: encodeFunctionData({ abi: parseAbi(["function poke(uint256)"]), functionName: "poke", args: [7n] }),
  value: "0",
};

const signed = (account: (typeof approvers)[number], decision: ApprovalDecision, about: ApprovalSubject = subject) =>
  account.signTypedData(approvalTypedData(about, decision));

describe("approval verification", () => {
  it("counts an approval signed by an approver of the policy", async () => {
    const signature = await signed(approvers[0]!, "approve");
    expect(await checkApproval({ policy, subject, input: { approver: approvers[0]!.address, decision: "approve", signature }, decided: [] })).toEqual({
      counts: true,
      approver: approvers[0]!.address.toLowerCase(),
    });
  });

  it("counts a rejection signed by an approver of the policy", async () => {
    const signature = await signed(approvers[1]!, "reject");
    expect((await checkApproval({ policy, subject, input: { approver: approvers[1]!.address, decision: "reject", signature }, decided: [] })).counts).toBe(true);
  });

  it("does not count a valid signature of someone outside the policy, and names the approver field", async () => {
    const signature = await signed(outsider, "approve");
    expect(await checkApproval({ policy, subject, input: { approver: outsider.address, decision: "approve", signature }, decided: [] })).toMatchObject({
      counts: false,
      code: "APPROVER_NOT_IN_POLICY",
      field: "approver",
    });
  });

  it("does not count an approver's name with another key's signature", async () => {
    const signature = await signed(approvers[2]!, "approve");
    expect(await checkApproval({ policy, subject, input: { approver: approvers[0]!.address, decision: "approve", signature }, decided: [] })).toMatchObject({
      counts: false,
      code: "APPROVAL_SIGNATURE_INVALID",
      field: "signature",
    });
  });

  it("does not count a rejection's signature as an approval", async () => {
    const signature = await signed(approvers[0]!, "reject");
    expect(await checkApproval({ policy, subject, input: { approver: approvers[0]!.address, decision: "approve", signature }, decided: [] })).toMatchObject({
      code: "APPROVAL_SIGNATURE_INVALID",
    });
  });

  it("does not count an approval of another transaction", async () => {
    const signature = await signed(approvers[0]!, "approve", { ...subject, transactionId: "tx_other" });
    expect(await checkApproval({ policy, subject, input: { approver: approvers[0]!.address, decision: "approve", signature }, decided: [] })).toMatchObject({
      code: "APPROVAL_SIGNATURE_INVALID",
    });
  });

  it("does not count an approval of other calldata or another value", async () => {
    const otherData = await signed(approvers[0]!, "approve", { ...subject, data: "0xdeadbeef" });
    const otherValue = await signed(approvers[0]!, "approve", { ...subject, value: "1" });
    for (const signature of [otherData, otherValue]) {
      expect((await checkApproval({ policy, subject, input: { approver: approvers[0]!.address, decision: "approve", signature }, decided: [] })).counts).toBe(false);
    }
  });

  it("does not count an approval signed for another chain", async () => {
    const signature = await signed(approvers[0]!, "approve", { ...subject, chainId: 1 });
    expect((await checkApproval({ policy, subject, input: { approver: approvers[0]!.address, decision: "approve", signature }, decided: [] })).counts).toBe(false);
  });

  it("does not count a signature that is not 65 bytes of hex", async () => {
    for (const signature of ["0x1234", "not hex", `0x${"zz".repeat(65)}`]) {
      expect(await checkApproval({ policy, subject, input: { approver: approvers[0]!.address, decision: "approve", signature }, decided: [] })).toMatchObject({
        code: "APPROVAL_SIGNATURE_INVALID",
        field: "signature",
      });
    }
  });

  it("does not count a second decision of the same approver", async () => {
    const signature = await signed(approvers[0]!, "approve");
    expect(
      await checkApproval({ policy, subject, input: { approver: approvers[0]!.address, decision: "approve", signature }, decided: [approvers[0]!.address.toLowerCase()] }),
    ).toMatchObject({ counts: false, code: "APPROVAL_DUPLICATE", field: "approver" });
  });

  it("accepts the approver's address in any letter case", async () => {
    const signature = await signed(approvers[0]!, "approve");
    expect((await checkApproval({ policy, subject, input: { approver: approvers[0]!.address.toUpperCase().replace("0X", "0x"), decision: "approve", signature }, decided: [] })).counts).toBe(true);
  });

  it("signs a contract creation's approval over the zero address", () => {
    expect(approvalTypedData({ ...subject, target: null }, "approve").message.target).toBe(zeroAddress);
  });

  it("names the domain ddwf, version 1, on the transaction's chain", () => {
    expect(approvalTypedData(subject, "approve").domain).toEqual({ name: "ddwf", version: "1", chainId: 31337 });
  });
});
