/**
 * The DAPI's error codes, their HTTP status, and the one envelope every failure is answered with:
 * `{ code, message, data, requestId }`. `toErrorEnvelope` is what `app.onError` and the audit
 * middleware both use, so the stored outcome and the answer can never disagree.
 */
import { z } from "zod";
import { DomainError } from "../shared/errors.ts";
import { RestateAdminError } from "../shared/restate/admin-client.ts";
import { safeText, sanitizeArguments, type RedactOptions } from "./redact.ts";

export const DAPI_ERROR_STATUS = {
  /** No `X-Api-Key`, or one that matches no active key. */
  UNAUTHENTICATED: 401,
  /** The key is valid but its permissions do not cover the route. */
  UNAUTHORIZED: 403,
  /** The body is not JSON, not UTF-8, or nested too deep. */
  BAD_REQUEST_BODY: 400,
  /** The HTTP request could not be parsed (answered by the server below the routes). */
  MALFORMED_REQUEST: 400,
  /** The route exists with another method; the `Allow` header lists the accepted ones. */
  METHOD_NOT_ALLOWED: 405,
  /** The body is larger than the DAPI accepts. */
  PAYLOAD_TOO_LARGE: 413,
  /** The body is compressed or otherwise encoded (`Content-Encoding`); send it as plain JSON. */
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** The request's headers are larger than the server accepts. */
  REQUEST_HEADERS_TOO_LARGE: 431,
  /** The body, path or query failed its schema; `data.issues` names each field. */
  VALIDATION_FAILED: 400,
  ROUTE_NOT_FOUND: 404,
  /** The process listens but has not finished start-up (database, bootstrap key). */
  DAPI_NOT_READY: 503,
  /** The admin URL does not resolve, or the admin API cannot be reached. */
  RESTATE_ADMIN_UNREACHABLE: 503,
  /** The admin API answered with an error status; `data.status` and `data.restateCode` say which. */
  RESTATE_ADMIN_REQUEST_FAILED: 502,
  RESTATE_DEPLOYMENT_NOT_FOUND: 404,
  /** Restate reached the service URL, which accepted the connection but did not answer in time. */
  SERVICE_ENDPOINT_NOT_ANSWERING: 504,
  /** recover-stuck-workflow found no invocation at all for the service and key: nothing to recover. */
  RESTATE_WORKFLOW_NOT_FOUND: 404,
  /** 409 for `active-invocation` and `already-succeeded`; 502 for `purge-failed` and `query-failed`. */
  RESTATE_WORKFLOW_RETRY_BLOCKED: 409,
  /**
   * A finished run of the key still has a sleep that has not come due; Restate would deliver its
   * timer into the next run (same invocation id). Nothing was changed; `Retry-After` and
   * `data.retryAt` say when to ask again.
   */
  RESTATE_WORKFLOW_TIMERS_PENDING: 409,
  WEBHOOK_SUBSCRIPTION_NOT_FOUND: 404,
  /** A test event was asked of a disabled subscription; enable it first. */
  WEBHOOK_SUBSCRIPTION_DISABLED: 409,
  /** WEBHOOK_SECRET_KEYS is not configured, so no secret can be stored encrypted. */
  WEBHOOKS_NOT_CONFIGURED: 503,
  DEAD_LETTER_NOT_FOUND: 404,
  /** The dead letter was already replayed or discarded. */
  DEAD_LETTER_NOT_OPEN: 409,
  /** No replay exists for this kind of dead letter yet. */
  DEAD_LETTER_KIND_UNSUPPORTED: 422,
  /** No transaction is stored under the id. */
  TRANSACTION_NOT_FOUND: 404,
  /** The transaction already ended (completed or failed); a cancellation changes nothing. */
  TRANSACTION_ALREADY_FINAL: 409,
  /** The approval names an address that is not an approver of the signer's policy; it does not count (`data.field`: approver). */
  APPROVER_NOT_IN_POLICY: 422,
  /** The signature is not the approver's EIP-712 signature over this transaction and decision; it does not count (`data.field`: signature). */
  APPROVAL_SIGNATURE_INVALID: 422,
  /** The approver has decided on this transaction already; the second decision does not count (`data.field`: approver). */
  APPROVAL_DUPLICATE: 409,
  /** The transaction takes no approvals: another route, released, ended, expired, or the route is off. */
  APPROVAL_NOT_OPEN: 409,
  INTERNAL_ERROR: 500,
} as const;

export type DapiErrorCode = keyof typeof DAPI_ERROR_STATUS;
export const DAPI_ERROR_CODES = Object.keys(DAPI_ERROR_STATUS) as DapiErrorCode[];

export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 431 | 500 | 502 | 503 | 504;

/** Codes whose answer carries a `Retry-After` header (seconds): asking again later is the remedy. */
export const RETRY_AFTER_CODES: readonly DapiErrorCode[] = ["RESTATE_WORKFLOW_TIMERS_PENDING"];

/**
 * A failure the DAPI answers on purpose; `status` overrides the code's default when a code spans
 * classes; `retryAfterSeconds` becomes the `Retry-After` header.
 */
export class DapiError extends DomainError<DapiErrorCode> {
  readonly status: ErrorStatus;
  readonly data: Record<string, unknown> | null;
  readonly retryAfterSeconds: number | undefined;
  constructor(
    code: DapiErrorCode,
    message: string,
    options?: { status?: ErrorStatus; data?: Record<string, unknown>; cause?: unknown; retryAfterSeconds?: number },
  ) {
    super(code, message, { cause: options?.cause });
    this.name = "DapiError";
    this.status = options?.status ?? DAPI_ERROR_STATUS[code];
    this.data = options?.data ?? null;
    this.retryAfterSeconds = options?.retryAfterSeconds;
  }
}

/** The `Retry-After` value of an error, when it has one. */
export function retryAfterOf(error: unknown): string | undefined {
  return error instanceof DapiError && error.retryAfterSeconds !== undefined ? String(Math.max(1, Math.ceil(error.retryAfterSeconds))) : undefined;
}

export const errorEnvelopeSchema = z
  .object({
    code: z.string().describe("Stable error code, e.g. RESTATE_WORKFLOW_RETRY_BLOCKED"),
    message: z.string(),
    data: z.record(z.string(), z.unknown()).nullable(),
    requestId: z.string().describe("Same value as the X-Request-Id response header"),
  });

export type ErrorEnvelope = z.infer<typeof errorEnvelopeSchema>;

export type DescribedError = { status: ErrorStatus; code: string; message: string; data: Record<string, unknown> | null };

/**
 * Maps anything thrown inside the DAPI to its status and envelope fields, with credentials redacted
 * and text storable (the same description goes into the answer and the audit row).
 */
export function describeError(error: unknown, options?: RedactOptions): DescribedError {
  const described = describeUnredacted(error);
  return {
    ...described,
    message: safeText(described.message, options),
    data: described.data === null ? null : (sanitizeArguments(described.data, options) as Record<string, unknown>),
  };
}

function describeUnredacted(error: unknown): DescribedError {
  if (error instanceof DapiError) {
    return { status: error.status, code: error.code, message: error.message, data: error.data };
  }
  if (error instanceof z.ZodError) {
    const issues = error.issues.flatMap(describeIssue);
    const summary = issues.map((issue) => `${issue.field}: ${issue.message}`).join("; ");
    return { status: 400, code: "VALIDATION_FAILED", message: `invalid request: ${summary}`, data: { issues } };
  }
  if (error instanceof RestateAdminError) {
    if (error.code === "RESTATE_ADMIN_UNREACHABLE") {
      return { status: 503, code: error.code, message: error.message, data: null };
    }
    return {
      status: 502,
      code: error.code,
      message: error.message,
      data: { status: error.status ?? null, restateCode: error.restateCode ?? null },
    };
  }
  return { status: 500, code: "INTERNAL_ERROR", message: "internal error; the request id locates it in the DAPI log", data: null };
}

/**
 * A validation failure on one field, raised by hand (a cursor that does not decode, a URL that
 * resolves somewhere refused). Zod 4's `new ZodError()` is not an `Error`, which Hono's error
 * handler would never see, so hand-made failures use this instead.
 */
export function validationFailed(field: string, message: string): DapiError {
  return new DapiError("VALIDATION_FAILED", `invalid request: ${field}: ${message}`, {
    data: { issues: [{ field, message, code: "custom" }] },
  });
}

/** One entry per offending field; an unknown-keys issue becomes one entry per unknown key. */
function describeIssue(issue: z.core.$ZodIssue): { field: string; message: string; code: string }[] {
  const path = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({ field: path ? `${path}.${key}` : key, message: "unknown field", code: issue.code }));
  }
  return [{ field: path || "(body)", message: issue.message, code: issue.code }];
}

export function toErrorEnvelope(error: unknown, requestId: string, options?: RedactOptions): { status: ErrorStatus; body: ErrorEnvelope } {
  const described = describeError(error, options);
  return { status: described.status, body: { code: described.code, message: described.message, data: described.data, requestId } };
}
