/**
 * What the DAPI stores and logs about a request must never carry a credential. Two rules:
 * - any `scheme://user:pass@host…` has its user information replaced by `REDACTED`, with the rest of
 *   the URL (host, port, path, query, fragment) left byte for byte as it was;
 * - a field whose name says it holds a secret (`apiKey`, `password`, `token`, …) is masked entirely.
 */

export const REDACTED = "REDACTED";

/**
 * Scheme, then the authority up to its last `@` (a password may itself contain `@`). The authority
 * ends at the first `/`, `?`, `#`, whitespace or quote, so URLs inside error messages are found too.
 */
const URL_USER_INFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/?#\s'"<>]*)@/gi;

/** Replaces the user information of every URL in `text` by `REDACTED`. */
export function redactUrlUserInfo(text: string): string {
  return text.replace(URL_USER_INFO, (_match, scheme: string) => `${scheme}${REDACTED}@`);
}

const SECRET_FIELD = /(api[-_]?key|password|passwd|secret|token|authorization|private[-_]?key|credential)/i;

/** A deep copy of `value` with URL user information and secret-named fields redacted. */
export function sanitizeArguments(value: unknown): unknown {
  if (typeof value === "string") return redactUrlUserInfo(value);
  if (Array.isArray(value)) return value.map(sanitizeArguments);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) {
      out[key] = SECRET_FIELD.test(key) ? REDACTED : sanitizeArguments(field);
    }
    return out;
  }
  return value;
}
