/**
 * Errors with a stable `code`. Terminal versus retryable is a type:
 * - `DomainTerminalError` extends Restate's `TerminalError`: never retried; its code travels in
 *   `metadata.code`, which is what survives a `ctx.run` or a call between handlers.
 * - `DomainError` is any other failure with a code; inside `ctx.run` it is retried by the step's policy.
 */
import { TerminalError } from "@restatedev/restate-sdk";

export class DomainError<Code extends string = string> extends Error {
  readonly code: Code;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: Code, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DomainError";
    this.code = code;
    this.details = options?.details;
  }
}

export class DomainTerminalError<Code extends string = string> extends TerminalError {
  readonly domainCode: Code;
  constructor(code: Code, message: string, options?: { httpStatus?: number; metadata?: Record<string, string> }) {
    super(message, { errorCode: options?.httpStatus ?? 500, metadata: { ...options?.metadata, code } });
    this.name = "DomainTerminalError";
    this.domainCode = code;
  }
}

/**
 * The stable code of any error: `metadata.code` of a (rebuilt) TerminalError, or `code` of a
 * DomainError. Across Restate calls only the metadata survives, so branch on this, never on classes.
 */
export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const metadata = (error as { metadata?: Record<string, string> }).metadata;
  if (metadata?.code) return metadata.code;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

export function errorMessageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
