/**
 * How an owner's decision on a smart-wallet transaction is checked. Approving is signing the user
 * operation itself: the owner's signature over its `SafeOp` hash (EIP-712, the Safe 4337 module's
 * domain) is what the account checks on chain, so ddwf checks the same thing before it counts it.
 * Rejecting is signing ddwf's approval typed data with the decision `reject` (approval-signature.ts),
 * which no contract would accept as an approval. Pure: which field is wrong and why, or that it counts.
 */
import { isAddress, isHex, recoverAddress, recoverTypedDataAddress, type Hex } from "viem";
import { approvalTypedData, type ApprovalCheck, type ApprovalInput, type ApprovalRefusalCode, type ApprovalSubject, APPROVAL_REFUSALS } from "./approval-signature.ts";

const refused = (code: ApprovalRefusalCode, message: string): ApprovalCheck => ({ counts: false, code, field: APPROVAL_REFUSALS[code], message });

export async function checkOwnerDecision(parameters: {
  /** The account's owners, lower case. */
  owners: readonly string[];
  /** What each owner signs to approve. */
  safeOperationHash: Hex;
  /** The transaction a rejection names. */
  subject: ApprovalSubject;
  input: ApprovalInput;
  /** Owners (lower case) whose decision is counted already. */
  decided: readonly string[];
}): Promise<ApprovalCheck> {
  const { input } = parameters;
  if (!isAddress(input.approver, { strict: false })) return refused("APPROVER_NOT_IN_POLICY", `approver: ${input.approver} is not an address`);
  const owner = input.approver.toLowerCase();
  if (!parameters.owners.includes(owner)) return refused("APPROVER_NOT_IN_POLICY", `approver: ${input.approver} is not an owner of the smart account`);
  if (!isHex(input.signature) || input.signature.length !== 132) {
    return refused("APPROVAL_SIGNATURE_INVALID", "signature: must be a 65-byte hex signature (0x followed by 130 hex digits)");
  }
  let recovered: string;
  try {
    recovered =
      input.decision === "approve"
        ? await recoverAddress({ hash: parameters.safeOperationHash, signature: input.signature })
        : await recoverTypedDataAddress({ ...approvalTypedData(parameters.subject, "reject"), signature: input.signature });
  } catch {
    return refused("APPROVAL_SIGNATURE_INVALID", "signature: recovers to no address");
  }
  if (recovered.toLowerCase() !== owner) {
    const what = input.decision === "approve" ? `the user operation's SafeOp hash ${parameters.safeOperationHash}` : `transaction ${parameters.subject.transactionId} with decision reject`;
    return refused("APPROVAL_SIGNATURE_INVALID", `signature: is not ${input.approver}'s over ${what}`);
  }
  // Safe's checkSignatures reads v as 27/28 for a plain ECDSA signature of the hash.
  const v = Number.parseInt(input.signature.slice(130), 16);
  if (input.decision === "approve" && v !== 27 && v !== 28) return refused("APPROVAL_SIGNATURE_INVALID", "signature: v must be 27 or 28 (a signature of the SafeOp typed data)");
  if (parameters.decided.includes(owner)) return refused("APPROVAL_DUPLICATE", `approver: ${input.approver} has already decided on transaction ${parameters.subject.transactionId}`);
  return { counts: true, approver: owner };
}

export type { Hex };
