/**
 * What an approver of a sign-only transaction signs, and how ddwf checks it. An approval is EIP-712
 * typed data over the transaction as it is to be signed (its id, chain, target, the keccak-256 of
 * its calldata, its value) and the approver's decision, so a signature approves exactly one
 * transaction and cannot be replayed as the opposite decision or for another call. The domain is
 * `{ name: "ddwf", version: "1", chainId }`.
 *
 * `checkApproval` is pure: it answers whether an approval counts, and when it does not, which field
 * is wrong and why.
 */
import { isAddress, isHex, keccak256, recoverTypedDataAddress, zeroAddress, type Hex } from "viem";
import type { SignOnlyPolicy } from "./sign-only-policy.ts";

export const APPROVAL_DECISIONS = ["approve", "reject"] as const;
export type ApprovalDecision = (typeof APPROVAL_DECISIONS)[number];

export const APPROVAL_DOMAIN = { name: "ddwf", version: "1" } as const;

export const APPROVAL_TYPES = {
  TransactionApproval: [
    { name: "transactionId", type: "string" },
    { name: "chainId", type: "uint256" },
    { name: "target", type: "address" },
    { name: "calldataHash", type: "bytes32" },
    { name: "value", type: "uint256" },
    { name: "decision", type: "string" },
  ],
} as const;

/** The transaction an approval is about. A contract creation (no target) has the zero address. */
export type ApprovalSubject = { transactionId: string; chainId: number; target: string | null; data: Hex; value: string };

/** The EIP-712 typed data an approver signs for `decision` on `subject` (viem's `signTypedData` takes it as it is). */
export function approvalTypedData(subject: ApprovalSubject, decision: ApprovalDecision) {
  return {
    domain: { ...APPROVAL_DOMAIN, chainId: subject.chainId },
    types: APPROVAL_TYPES,
    primaryType: "TransactionApproval" as const,
    message: {
      transactionId: subject.transactionId,
      chainId: BigInt(subject.chainId),
      target: (subject.target ?? zeroAddress).toLowerCase() as Hex,
      calldataHash: keccak256(subject.data),
      value: BigInt(subject.value),
      decision,
    },
  };
}

export type ApprovalInput = { approver: string; decision: ApprovalDecision; signature: string };

export const APPROVAL_REFUSALS = {
  /** The approver is not one of the signer's policy. */
  APPROVER_NOT_IN_POLICY: "approver",
  /** The signature is not the approver's over this transaction and decision. */
  APPROVAL_SIGNATURE_INVALID: "signature",
  /** The approver has already decided on this transaction; a second decision does not count. */
  APPROVAL_DUPLICATE: "approver",
} as const;
export type ApprovalRefusalCode = keyof typeof APPROVAL_REFUSALS;

export type ApprovalCheck = { counts: true; approver: string } | { counts: false; code: ApprovalRefusalCode; field: "approver" | "signature"; message: string };

const refused = (code: ApprovalRefusalCode, message: string): ApprovalCheck => ({ counts: false, code, field: APPROVAL_REFUSALS[code], message });

/**
 * Whether `input` is a valid decision of one of the policy's approvers on `subject` that has not
 * been given before. `decided` holds the approvers (lower case) whose decision is counted already.
 */
export async function checkApproval(parameters: {
  policy: Pick<SignOnlyPolicy, "approvers">;
  subject: ApprovalSubject;
  input: ApprovalInput;
  decided: readonly string[];
}): Promise<ApprovalCheck> {
  const { policy, subject, input } = parameters;
  if (!isAddress(input.approver, { strict: false })) return refused("APPROVER_NOT_IN_POLICY", `approver: ${input.approver} is not an address`);
  const approver = input.approver.toLowerCase();
  if (!policy.approvers.includes(approver)) return refused("APPROVER_NOT_IN_POLICY", `approver: ${input.approver} is not an approver of this signer's policy`);
  if (!isHex(input.signature) || input.signature.length !== 132) {
    return refused("APPROVAL_SIGNATURE_INVALID", "signature: must be a 65-byte hex signature (0x followed by 130 hex digits)");
  }
  let recovered: string;
  try {
    recovered = await recoverTypedDataAddress({ ...approvalTypedData(subject, input.decision), signature: input.signature });
  } catch {
    return refused("APPROVAL_SIGNATURE_INVALID", "signature: recovers to no address");
  }
  if (recovered.toLowerCase() !== approver) {
    return refused("APPROVAL_SIGNATURE_INVALID", `signature: is not ${input.approver}'s over transaction ${subject.transactionId} with decision ${input.decision}`);
  }
  if (parameters.decided.includes(approver)) return refused("APPROVAL_DUPLICATE", `approver: ${input.approver} has already decided on transaction ${subject.transactionId}`);
  return { counts: true, approver };
}
