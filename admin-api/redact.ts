/**
 * What the DAPI stores and logs about a request must never carry a credential, and must fit in
 * PostgreSQL. The rules:
 * - user information in any URL becomes `REDACTED`, found the way a URL parser (WHATWG) reads the
 *   text: for the special schemes (http, https, ws, wss, ftp, file) any run of `/` and `\` after the
 *   colon, even none, starts the authority; tabs and newlines are ignored anywhere; the authority
 *   ends at `/`, `?`, `#` (and `\` for special schemes), and its user information runs to the last
 *   `@` in it, quotes, spaces and `<` included. The rest of the URL is kept byte for byte. In free
 *   text this can cover more than the URL (up to a later `@`); redacting too much is the safe side;
 * - a field whose name says it holds a secret (`apiKey`, `password`, `token`, …) is masked entirely;
 * - any occurrence of a known secret (the caller's own API key) and any `whsec_` webhook secret is
 *   masked, whatever field it sits in;
 * - text is made storable: NUL characters and lone surrogates (which PostgreSQL's `jsonb` and `text`
 *   refuse) become U+FFFD, very long strings are cut, and nesting is bounded.
 */
import type { LogFields, Logger } from "../shared/logger.ts";

export const REDACTED = "REDACTED";

export type RedactOptions = {
  /** Exact values to mask wherever they appear (the authenticating API key). Ignored below 8 characters. */
  secrets?: readonly string[] | undefined;
};

const SPECIAL_SCHEMES = new Set(["http", "https", "ws", "wss", "ftp", "file"]);
const WEBHOOK_SECRET = /whsec_[A-Za-z0-9+/=_-]+/g;

const isLetter = (c: string | undefined) => c !== undefined && ((c >= "a" && c <= "z") || (c >= "A" && c <= "Z"));
const isSchemeChar = (c: string | undefined) => c !== undefined && (isLetter(c) || (c >= "0" && c <= "9") || c === "+" || c === "-" || c === ".");
/** A URL parser removes ASCII tab and newline characters from anywhere in its input. */
const isIgnored = (c: string | undefined) => c === "\t" || c === "\n" || c === "\r";

/** Replaces the user information of every URL in `text` by `REDACTED`, and masks known secrets. */
export function redactUrlUserInfo(text: string, options?: RedactOptions): string {
  return redactUserInfo(maskSecrets(text, options?.secrets));
}

function maskSecrets(text: string, secrets: readonly string[] | undefined): string {
  let masked = text.replace(WEBHOOK_SECRET, REDACTED);
  for (const secret of secrets ?? []) {
    if (secret.length >= 8) masked = masked.replaceAll(secret, REDACTED);
  }
  return masked;
}

function redactUserInfo(text: string): string {
  let out = "";
  let copiedUpTo = 0;
  let i = 0;
  while (i < text.length) {
    if (!isLetter(text[i]) || (i > 0 && isSchemeChar(text[i - 1]))) {
      i++;
      continue;
    }
    // The scheme: letters, digits, + - . (tabs and newlines in between are dropped by a parser).
    let j = i;
    let scheme = "";
    while (j < text.length && (isSchemeChar(text[j]) || isIgnored(text[j]))) {
      if (!isIgnored(text[j])) scheme += text[j];
      j++;
    }
    if (text[j] !== ":") {
      i = j;
      continue;
    }
    j++;
    const special = SPECIAL_SCHEMES.has(scheme.toLowerCase());
    let authorityStart = j;
    if (special) {
      while (authorityStart < text.length && (text[authorityStart] === "/" || text[authorityStart] === "\\" || isIgnored(text[authorityStart]))) authorityStart++;
    } else {
      let slashes = 0;
      while (authorityStart < text.length && slashes < 2 && (text[authorityStart] === "/" || isIgnored(text[authorityStart]))) {
        if (text[authorityStart] === "/") slashes++;
        authorityStart++;
      }
      if (slashes < 2) {
        i = j;
        continue;
      }
    }
    let end = authorityStart;
    let lastAt = -1;
    while (end < text.length) {
      const c = text[end];
      if (c === "/" || c === "?" || c === "#" || (special && c === "\\")) break;
      if (c === "@") lastAt = end;
      end++;
    }
    if (lastAt >= 0) {
      out += `${text.slice(copiedUpTo, authorityStart)}${REDACTED}`;
      copiedUpTo = lastAt;
    }
    // Scanning goes on after the user information, not after the authority: in free text the
    // authority may have run into the next URL's scheme.
    i = lastAt >= 0 ? lastAt + 1 : authorityStart;
  }
  return out + text.slice(copiedUpTo);
}

/** Longest string kept in an audit row or log field; longer ones are cut with a note of their length. */
export const MAX_STORED_STRING = 2_000;
/** Deeper values are replaced by a note; request bodies are refused well before this depth. */
const MAX_STORED_DEPTH = 64;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text PostgreSQL accepts in `text` and `jsonb`: no NUL, no lone surrogate. */
export function storableText(text: string): string {
  return text.replaceAll("\u0000", "\ufffd").replace(LONE_SURROGATE, "\ufffd");
}

/** Redacted, storable and bounded: for reasons, error messages and log fields. */
export function safeText(text: string, options?: RedactOptions): string {
  const redacted = storableText(redactUrlUserInfo(text, options));
  if (redacted.length <= MAX_STORED_STRING) return redacted;
  return storableText(`${redacted.slice(0, MAX_STORED_STRING)}…(${redacted.length} characters)`);
}

const SECRET_FIELD = /(api[-_]?key|password|passwd|secret|token|authorization|private[-_]?key|credential)/i;

/**
 * A deep copy of `value` safe to store: URL user information redacted, secret-named fields and
 * known secrets masked, text storable, strings and depth bounded. Field names are treated like
 * values, and a `__proto__` field stays an ordinary field.
 */
export function sanitizeArguments(value: unknown, options?: RedactOptions): unknown {
  return sanitize(value, options, 0);
}

function sanitize(value: unknown, options: RedactOptions | undefined, depth: number): unknown {
  if (typeof value === "string") return safeText(value, options);
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_STORED_DEPTH) return `(nested deeper than ${MAX_STORED_DEPTH} levels; not stored)`;
  if (Array.isArray(value)) return value.map((item: unknown) => sanitize(item, options, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    const storedKey = safeText(key, options);
    // defineProperty, not assignment: an own `__proto__` field must stay data, not a prototype.
    Object.defineProperty(out, storedKey, {
      value: SECRET_FIELD.test(key) ? REDACTED : sanitize(field, options, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/**
 * A logger that applies these rules to every message and field before the line is written, so no
 * log line of the DAPI carries a credential however it got into an error or a field.
 */
export function redactingLogger(inner: Logger, options?: RedactOptions): Logger {
  const clean = (fields: LogFields | undefined): LogFields | undefined => {
    if (!fields) return undefined;
    const plain: LogFields = {};
    for (const [key, value] of Object.entries(fields)) plain[key] = value instanceof Error ? { name: value.name, message: value.message } : value;
    return sanitizeArguments(plain, options) as LogFields;
  };
  return {
    debug: (message, fields) => inner.debug(safeText(message, options), clean(fields)),
    info: (message, fields) => inner.info(safeText(message, options), clean(fields)),
    warn: (message, fields) => inner.warn(safeText(message, options), clean(fields)),
    error: (message, fields) => inner.error(safeText(message, options), clean(fields)),
    child: (fields) => redactingLogger(inner.child(clean(fields) ?? {}), options),
  };
}
