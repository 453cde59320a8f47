/**
 * Every code a transaction can end with (or is refused with), and the HTTP status it stands for.
 * Codes cross Restate calls in the terminal error's metadata: branch on `errorCodeOf(error)`.
 */
import { DomainTerminalError } from "../../../shared/errors.ts";

export const TRANSACTION_ERROR_STATUS = {
  /** A field of the submitted operation is invalid; the message names it. */
  INVALID_TRANSACTION_REQUEST: 400,
  /** No operation is stored under the transaction id. */
  TRANSACTION_NOT_FOUND: 404,
  /** The transaction id is stored with another operation; nothing changed. */
  TRANSACTION_ID_REUSED: 409,
  /** The transaction id is stored with another executor selection; nothing changed. */
  EXECUTOR_SELECTION_MISMATCH: 409,
  /** The organization's idempotency key belongs to another transaction; nothing changed. */
  IDEMPOTENCY_KEY_REUSED: 409,
  /** The stored executor selection no longer parses. */
  EXECUTOR_SELECTION_INVALID: 422,
  /** The executor selection names a route this worker does not run. */
  SIGNER_ROUTE_UNSUPPORTED: 422,
  CHAIN_NOT_CONFIGURED: 422,
  /** No key of this worker signs for the sender. */
  SIGNER_NOT_FOUND: 422,
  /** A contract call to an address without code; refused before any nonce is used. */
  TARGET_HAS_NO_CODE: 422,
  /** Reverted in gas estimation (nothing sent) or on chain (mined, failed). */
  EXECUTION_REVERTED: 422,
  /** Cancelled: before a nonce was taken, or by a zero-value self-transfer mined on its nonce. */
  CANCELLED: 409,
  /** The RPC or the database stayed away longer than the pre-broadcast budget; a dead letter says so. */
  RETRY_BUDGET_EXHAUSTED: 503,
  /** Other senders kept taking the nonces handed out. */
  NONCE_RESYNC_EXHAUSTED: 503,
  /** Blocked (not final): replacing the stuck transaction would exceed the fee cap. */
  FEE_CAP_REACHED: 422,
  /** A terminal failure after broadcast that has no code of its own. */
  CONFIRMATION_FAILED: 500,
  /** The custody provider refused to create the transaction (a request it calls invalid). */
  PROVIDER_REFUSED: 422,
  /** The custody route cannot carry this operation (a contract deployment). */
  CUSTODY_OPERATION_UNSUPPORTED: 422,
  /** Sign-only: an approver of the signer's policy rejected the transaction; nothing was signed. */
  APPROVAL_REJECTED: 422,
  /** Sign-only: the approvals needed did not come before the policy's expiry; nothing was signed. */
  APPROVAL_EXPIRED: 422,
  /** An approval names an address outside the signer's policy; it does not count. */
  APPROVER_NOT_IN_POLICY: 422,
  /** An approval's signature is not the approver's over this transaction and decision; it does not count. */
  APPROVAL_SIGNATURE_INVALID: 422,
  /** The approver has decided on this transaction already; the second decision does not count. */
  APPROVAL_DUPLICATE: 409,
  /** The transaction does not wait for approvals (another route, released, ended or expired). */
  APPROVAL_NOT_OPEN: 409,
  /** Blocked (not final): the bundler holds another operation of the account; it is sent again when that one is through. */
  BLOCKED_BY_QUEUE: 409,
  /** Smart-wallet: the bundler refused the user operation (simulation revert, signature, gas); nothing was mined for it. */
  BUNDLER_REFUSED: 422,
  /** Smart-wallet: the account's nonce was used by another user operation; this one can never be mined. */
  USER_OPERATION_NONCE_TAKEN: 409,
} as const;

/**
 * How a custody provider ended a transaction, in its own words: its sub-status when it gave one
 * of these, else its primary status. Fireblocks' names; a sub-status not listed here is reported
 * by its primary status (and kept in the approval's `provider.subStatus`).
 */
export const CUSTODY_FAILURE_CODES = [
  // primary statuses
  "REJECTED",
  "BLOCKED",
  "FAILED",
  "TIMEOUT",
  // rejected and blocked
  "REJECTED_BY_USER",
  "BLOCKED_BY_POLICY",
  "REJECTED_AML_SCREENING",
  "AUTHORIZATION_FAILED",
  "AUTHORIZER_NOT_FOUND",
  "UNAUTHORISED_USER",
  // cancelled by someone at the provider
  "CANCELLED_BY_USER",
  "CANCELLED_BY_USER_REQUEST",
  // failed
  "INSUFFICIENT_FUNDS",
  "INSUFFICIENT_FUNDS_FOR_FEE",
  "INVALID_ADDRESS",
  "GAS_LIMIT_TOO_LOW",
  "ACTUAL_FEE_TOO_HIGH",
  "MAX_FEE_EXCEEDED",
  "FAIL_ON_LOW_FEE",
  "AMOUNT_TOO_SMALL",
  "NONCE_ALLOCATION_FAILED",
  "DROPPED_BY_BLOCKCHAIN",
  "REJECTED_BY_BLOCKCHAIN",
  "SMART_CONTRACT_EXECUTION_FAILED",
  "TX_OUTDATED",
  "NETWORK_ERROR",
  "INTERNAL_ERROR",
  "UNKNOWN_ERROR",
] as const;

export type CustodyFailureCode = (typeof CUSTODY_FAILURE_CODES)[number];

/** A provider's ending is a policy or funds outcome, not an outage of ours. */
export const CUSTODY_FAILURE_STATUS = 422;

export type TransactionErrorCode = keyof typeof TRANSACTION_ERROR_STATUS | CustodyFailureCode;

export function isCustodyFailureCode(code: string): code is CustodyFailureCode {
  return (CUSTODY_FAILURE_CODES as readonly string[]).includes(code);
}

/** A terminal error with a catalogued code and its status; `metadata` travels with it. */
export function transactionError(code: TransactionErrorCode, message: string, metadata?: Record<string, string>): DomainTerminalError<TransactionErrorCode> {
  const httpStatus = isCustodyFailureCode(code) ? CUSTODY_FAILURE_STATUS : TRANSACTION_ERROR_STATUS[code];
  return new DomainTerminalError(code, message, { httpStatus, ...(metadata ? { metadata } : {}) });
}
