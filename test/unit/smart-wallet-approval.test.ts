import { describe, expect, it } from "vitest";
import { BaseError, HttpRequestError, keccak256, RpcRequestError, toHex, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { classifyBundlerFailure } from "../../shared/evm/erc4337/bundler-refusal.ts";
import { approvalTypedData } from "../../shared/signers/approval-signature.ts";
import { checkOwnerDecision } from "../../shared/signers/smart-wallet-approval.ts";

const owners = [0, 1, 2].map(() => privateKeyToAccount(generatePrivateKey()));
const ownerAddresses = owners.map((owner) => owner.address.toLowerCase());
const safeOperationHash = keccak256(toHex("a SafeOp"));
const subject = { transactionId: "tx_1", chainId: 31337, target: "0x00000000000000000000000000000000000000aa", data: "0x1234" as Hex, value: "0" };
const check = (input: { approver: string; decision: "approve" | "reject"; signature: string }, decided: string[] = []) =>
  checkOwnerDecision({ owners: ownerAddresses, safeOperationHash, subject, input, decided });

describe("an owner's decision on a smart-wallet transaction", () => {
  it("counts an owner's signature of the SafeOp hash as an approval", async () => {
    const signature = await owners[1]!.sign({ hash: safeOperationHash });
    expect(await check({ approver: owners[1]!.address, decision: "approve", signature })).toEqual({ counts: true, approver: ownerAddresses[1] });
  });

  it("refuses an owner's signature over other data", async () => {
    const signature = await owners[1]!.sign({ hash: keccak256(toHex("something else")) });
    expect(await check({ approver: owners[1]!.address, decision: "approve", signature })).toMatchObject({ counts: false, code: "APPROVAL_SIGNATURE_INVALID", field: "signature" });
  });

  it("refuses one owner's signature handed in under another owner's name", async () => {
    const signature = await owners[0]!.sign({ hash: safeOperationHash });
    expect(await check({ approver: owners[2]!.address, decision: "approve", signature })).toMatchObject({ counts: false, code: "APPROVAL_SIGNATURE_INVALID" });
  });

  it("refuses an address that is not an owner", async () => {
    const outsider = privateKeyToAccount(generatePrivateKey());
    const signature = await outsider.sign({ hash: safeOperationHash });
    expect(await check({ approver: outsider.address, decision: "approve", signature })).toMatchObject({ counts: false, code: "APPROVER_NOT_IN_POLICY", field: "approver" });
  });

  it("counts a rejection signed as ddwf's approval typed data, not an approval signature used as one", async () => {
    const rejection = await owners[0]!.signTypedData(approvalTypedData(subject, "reject"));
    expect(await check({ approver: owners[0]!.address, decision: "reject", signature: rejection })).toMatchObject({ counts: true });
    const approvalBytes = await owners[0]!.sign({ hash: safeOperationHash });
    expect(await check({ approver: owners[0]!.address, decision: "reject", signature: approvalBytes })).toMatchObject({ counts: false, code: "APPROVAL_SIGNATURE_INVALID" });
  });

  it("refuses a second decision of the same owner", async () => {
    const signature = await owners[0]!.sign({ hash: safeOperationHash });
    expect(await check({ approver: owners[0]!.address, decision: "approve", signature }, [ownerAddresses[0]!])).toMatchObject({ counts: false, code: "APPROVAL_DUPLICATE" });
  });
});

const rpcError = (message: string, code = -32500) =>
  new BaseError("request failed", { cause: new RpcRequestError({ body: { method: "eth_sendUserOperation" }, error: { code, message }, url: "http://bundler" }) });

describe("a failed bundler call", () => {
  it("is a full queue when the bundler holds another operation on the account's nonce", () => {
    expect(classifyBundlerFailure(rpcError("AA25 invalid account nonce: User operation already present in mempool, bump the gas price by minimum 10%")).kind).toBe("queue-full");
    expect(classifyBundlerFailure(rpcError("AA25 invalid account nonce: Maximum number of queued user operations reached for this sender and nonce key")).kind).toBe("queue-full");
  });

  it("is a refusal with the reason for a simulation revert or a bad signature", () => {
    expect(classifyBundlerFailure(rpcError("UserOperation reverted during simulation with reason: AA24 signature error"))).toEqual({ kind: "refused", message: "UserOperation reverted during simulation with reason: AA24 signature error" });
  });

  it("is an outage when the bundler does not answer", () => {
    const down = new HttpRequestError({ url: "http://bundler", body: { method: "eth_sendUserOperation" }, details: "fetch failed" });
    expect(classifyBundlerFailure(down).kind).toBe("outage");
    expect(classifyBundlerFailure(new Error("socket hang up")).kind).toBe("outage");
  });

  it("is the same operation when the bundler already holds it", () => {
    expect(classifyBundlerFailure(rpcError("Already known", -32602)).kind).toBe("already-known");
  });

  it("is an outage for the bundler's own internal error", () => {
    expect(classifyBundlerFailure(rpcError("internal error", -32603)).kind).toBe("outage");
  });
});
