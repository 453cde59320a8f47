/**
 * Reading and validating request input. The body is read once per request and remembered, so the
 * audit middleware (which stores the arguments) and the route (which validates them) see the same
 * value. Validation failures throw `ZodError`, which `app.onError` answers as VALIDATION_FAILED.
 */
import type { Context } from "hono";
import type { z } from "zod";
import { DapiError } from "./errors.ts";

export type JsonBody = { ok: true; value: unknown } | { ok: false; problem: string };

const bodies = new WeakMap<Request, Promise<JsonBody>>();

/** The request body as JSON; an empty body counts as `{}` (so `curl -X POST` works for doctor). */
export function readJsonBody(c: Context): Promise<JsonBody> {
  const cached = bodies.get(c.req.raw);
  if (cached) return cached;
  const read = (async (): Promise<JsonBody> => {
    const text = await c.req.text();
    if (text.trim() === "") return { ok: true, value: {} };
    try {
      return { ok: true, value: JSON.parse(text) as unknown };
    } catch (error) {
      return { ok: false, problem: error instanceof Error ? error.message : String(error) };
    }
  })();
  bodies.set(c.req.raw, read);
  return read;
}

export async function parseJsonBody<Schema extends z.ZodType>(c: Context, schema: Schema): Promise<z.output<Schema>> {
  const body = await readJsonBody(c);
  if (!body.ok) throw new DapiError("BAD_REQUEST_BODY", `request body is not valid JSON: ${body.problem}`);
  return schema.parse(body.value);
}

export function parseQuery<Schema extends z.ZodType>(c: Context, schema: Schema): z.output<Schema> {
  return schema.parse(c.req.query());
}

export function parseParams<Schema extends z.ZodType>(c: Context, schema: Schema): z.output<Schema> {
  return schema.parse(c.req.param());
}
