/**
 * Reading and validating request input. The body is read once per request and remembered, so the
 * audit middleware (which stores the arguments) and the route (which validates them) see the same
 * value. Validation failures throw `ZodError`, which `app.onError` answers as VALIDATION_FAILED.
 *
 * Bodies are bounded before anything else looks at them: at most MAX_BODY_BYTES of UTF-8 JSON,
 * nested at most MAX_BODY_DEPTH levels, and not compressed (`Content-Encoding` other than
 * `identity` is refused rather than stored as bytes nobody can read).
 */
import type { Context } from "hono";
import type { z } from "zod";
import { DapiError, type DapiErrorCode } from "./errors.ts";

/** Largest body the DAPI reads; its routes take a few short fields. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Deepest nesting of objects and arrays in a body. */
export const MAX_BODY_DEPTH = 32;

export type JsonBody =
  | { ok: true; value: unknown }
  | {
      ok: false;
      code: Extract<DapiErrorCode, "BAD_REQUEST_BODY" | "PAYLOAD_TOO_LARGE" | "UNSUPPORTED_MEDIA_TYPE">;
      problem: string;
      /** What the audit row records instead of the body. */
      stored: string;
    };

const bodies = new WeakMap<Request, Promise<JsonBody>>();

/** The request body as JSON; an empty body counts as `{}` (so `curl -X POST` works for doctor). */
export function readJsonBody(c: Context): Promise<JsonBody> {
  const cached = bodies.get(c.req.raw);
  if (cached) return cached;
  const read = readBounded(c.req.raw);
  bodies.set(c.req.raw, read);
  return read;
}

async function readBounded(request: Request): Promise<JsonBody> {
  const encoding = request.headers.get("content-encoding")?.trim().toLowerCase();
  if (encoding && encoding !== "identity") {
    await request.body?.cancel().catch(() => {});
    return {
      ok: false,
      code: "UNSUPPORTED_MEDIA_TYPE",
      problem: `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not accepted; send the body as plain JSON`,
      stored: "(refused: encoded body)",
    };
  }
  const tooLarge = {
    ok: false as const,
    code: "PAYLOAD_TOO_LARGE" as const,
    problem: `the body is larger than ${MAX_BODY_BYTES} bytes`,
    stored: `(refused: larger than ${MAX_BODY_BYTES} bytes)`,
  };
  if (Number(request.headers.get("content-length") ?? 0) > MAX_BODY_BYTES) {
    await request.body?.cancel().catch(() => {});
    return tooLarge;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_BODY_BYTES) {
        await reader.cancel().catch(() => {});
        return tooLarge;
      }
      chunks.push(value);
    }
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    return { ok: false, code: "BAD_REQUEST_BODY", problem: "the body is not UTF-8 text", stored: "(not valid JSON)" };
  }
  if (text.trim() === "") return { ok: true, value: {} };
  if (nestingDepth(text) > MAX_BODY_DEPTH) {
    return {
      ok: false,
      code: "BAD_REQUEST_BODY",
      problem: `the body is nested deeper than ${MAX_BODY_DEPTH} levels`,
      stored: `(refused: nested deeper than ${MAX_BODY_DEPTH} levels)`,
    };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    // The parser's message quotes the body; only the position is kept.
    const position = /position (\d+)/.exec(error instanceof Error ? error.message : "")?.[1];
    return { ok: false, code: "BAD_REQUEST_BODY", problem: `request body is not valid JSON${position ? ` (at character ${position})` : ""}`, stored: "(not valid JSON)" };
  }
}

/** Deepest bracket nesting of JSON text, strings skipped; counted without parsing or recursion. */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") deepest = Math.max(deepest, ++depth);
    else if (c === "}" || c === "]") depth--;
  }
  return deepest;
}

export async function parseJsonBody<Schema extends z.ZodType>(c: Context, schema: Schema): Promise<z.output<Schema>> {
  const body = await readJsonBody(c);
  if (!body.ok) throw new DapiError(body.code, body.problem);
  return schema.parse(body.value);
}

export function parseQuery<Schema extends z.ZodType>(c: Context, schema: Schema): z.output<Schema> {
  return schema.parse(c.req.query());
}

export function parseParams<Schema extends z.ZodType>(c: Context, schema: Schema): z.output<Schema> {
  return schema.parse(c.req.param());
}
