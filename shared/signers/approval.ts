/**
 * What a transaction waits for while it is `awaiting-approval`, and how that wait ended. One shape
 * for every route that waits for people: a custody provider's policy (its own status and
 * sub-status) or a quorum of approvers (approvals given and needed, by whom and when). It travels
 * on the workflow's status, in the `transactions.approval` column and in every phase event.
 */
import { z } from "zod";

/** Where an approval wait stands. `pending` while the transaction is `awaiting-approval`. */
export const APPROVAL_STATES = ["pending", "approved", "rejected", "expired", "cancelled", "failed"] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

/** The outcomes counted in `dalp.ddwf.approvals`: every state but `pending`. */
export const APPROVAL_OUTCOMES = ["approved", "rejected", "expired", "cancelled", "failed"] as const satisfies readonly ApprovalState[];
export type ApprovalOutcome = (typeof APPROVAL_OUTCOMES)[number];

/** The routes whose transactions wait for approval. */
export const APPROVAL_ROUTES = ["custody", "sign-only", "smart-wallet"] as const;
export type ApprovalRoute = (typeof APPROVAL_ROUTES)[number];

const isoTime = z.string().describe("ISO 8601 time");

export const transactionApprovalSchema = z.object({
  route: z.enum(APPROVAL_ROUTES),
  state: z.enum(APPROVAL_STATES),
  /** When the wait began. */
  requestedAt: isoTime,
  /** When it ended (null while pending). */
  decidedAt: isoTime.nullable(),
  /** When it ends by itself, where ddwf knows (a quorum's expiry); null when the provider decides. */
  expiresAt: isoTime.nullable(),
  /** The custody provider's view: its transaction id, status and sub-status as it names them. */
  provider: z
    .object({ name: z.string(), transactionId: z.string(), status: z.string(), subStatus: z.string().nullable() })
    .nullable(),
  /** A quorum's view: approvals needed and those given (approver address, when). */
  quorum: z
    .object({
      needed: z.number().int().positive(),
      given: z.array(z.object({ approver: z.string(), at: isoTime })),
      /** Everyone who may approve (the N of M of N). */
      approvers: z.array(z.string()).optional(),
      /** The approver whose rejection ended the wait. */
      rejectedBy: z.object({ approver: z.string(), at: isoTime }).nullable().optional(),
    })
    .nullable(),
  /**
   * Smart-wallet route: the ERC-4337 user operation the owners sign (fixed before the first
   * signature) with its hashes: `safeOperationHash` is what each owner signs (EIP-712 `SafeOp` of the
   * Safe 4337 module), `userOpHash` is the EntryPoint's hash, known before it is sent.
   */
  userOperation: z
    .object({
      userOpHash: z.string(),
      safeOperationHash: z.string(),
      entryPoint: z.string(),
      module: z.string(),
      chainId: z.number().int().positive(),
      sender: z.string(),
      nonce: z.string(),
      factory: z.string().nullable(),
      factoryData: z.string().nullable(),
      callData: z.string(),
      callGasLimit: z.string(),
      verificationGasLimit: z.string(),
      preVerificationGas: z.string(),
      maxFeePerGas: z.string(),
      maxPriorityFeePerGas: z.string(),
    })
    .optional(),
});

export type TransactionApproval = z.infer<typeof transactionApprovalSchema>;

/** The outcome a change from `before` to `after` decided: set only when it ended a pending wait. */
export function decidedOutcome(before: TransactionApproval | null | undefined, after: TransactionApproval | null | undefined): ApprovalOutcome | null {
  if (before?.state !== "pending" || !after || after.state === "pending") return null;
  return after.state;
}
