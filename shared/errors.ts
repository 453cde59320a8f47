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
 * The stable code of any error: `metadata.code` of a (rebuilt) TerminalError, `code` of a
 * DomainError, or the metadata code in the body of a call that failed through the ingress client.
 * Across Restate calls only the metadata survives, so branch on this, never on classes.
 */
export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const metadata = (error as { metadata?: Record<string, string> }).metadata;
  if (metadata?.code) return metadata.code;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") return code;
  // A failed call through the ingress client: Restate's error body holds the terminal error's metadata.
  const responseText = (error as { responseText?: unknown }).responseText;
  if (typeof responseText === "string") {
    try {
      const body = JSON.parse(responseText) as { metadata?: { code?: unknown } } | null;
      if (typeof body?.metadata?.code === "string") return body.metadata.code;
    } catch {
      // Not a Restate error body (a proxy's page, say): no code.
    }
  }
  return undefined;
}

export function errorMessageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
