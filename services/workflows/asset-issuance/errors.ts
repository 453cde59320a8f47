/** The error codes of asset issuance and their HTTP statuses, in one typed catalog. */
import { DomainError, DomainTerminalError } from "../../../shared/errors.ts";

export const ISSUANCE_ERROR_STATUS = {
  /** The request failed its schema; the message names each field. */
  INVALID_ISSUANCE_REQUEST: 400,
  /** The issuance id was submitted before with a different request. */
  ISSUANCE_ID_REUSED: 409,
  /** An investor has no verified identity, or one from a jurisdiction the rules do not allow. */
  INVESTOR_NOT_ELIGIBLE: 422,
  CHAIN_NOT_CONFIGURED: 422,
  /** The identity registry address holds no contract. */
  REGISTRY_HAS_NO_CODE: 422,
  /** The deployment's receipt names no contract. */
  DEPLOYMENT_WITHOUT_CONTRACT: 502,
  /** A chain write failed before anything was deployed; nothing to undo. */
  ISSUANCE_FAILED: 422,
  /** A step after deployment failed; the token is paused and investors and issuer were notified. */
  ISSUANCE_FAILED_COMPENSATED: 422,
  /** A step after deployment failed and so did the pause; a dead letter lists what is left. */
  ISSUANCE_NEEDS_OPERATOR: 500,
  /** `waitForIssuance` gave up before a final stage. */
  ISSUANCE_WAIT_TIMEOUT: 408,
} as const;

export type IssuanceErrorCode = keyof typeof ISSUANCE_ERROR_STATUS;

/** A permanent failure of the workflow, its code in `metadata.code`. */
export function issuanceTerminalError(code: IssuanceErrorCode, message: string): DomainTerminalError<IssuanceErrorCode> {
  return new DomainTerminalError(code, message, { httpStatus: ISSUANCE_ERROR_STATUS[code] });
}

/** A refusal by the typed client, before or instead of a workflow call. */
export class IssuanceClientError extends DomainError<IssuanceErrorCode> {
  override name = "IssuanceClientError";
  get status(): number {
    return ISSUANCE_ERROR_STATUS[this.code];
  }
}
