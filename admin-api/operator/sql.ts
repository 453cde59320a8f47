import type { z } from "zod";
import { RestateAdminError } from "../../shared/restate/admin-client.ts";

/**
 * The admin API's `/query` takes SQL text, not parameters. Values are validated by the routes'
 * schemas first; quoting here is the second line of defence.
 */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export function sqlStringList(values: readonly string[]): string {
  return values.map(sqlString).join(", ");
}

/** Restate answers timestamps with up to nine fractional digits; the DAPI answers ISO 8601 UTC with milliseconds. */
export function isoTimestamp(value: string | null | undefined): string | null {
  if (!value) return null;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? null : parsed.toISOString();
}

/**
 * Validates an admin API answer. A mismatch is Restate's problem, not the caller's: it becomes
 * RESTATE_ADMIN_REQUEST_FAILED (502) instead of a ZodError that would read as a bad request.
 */
export function parseAnswer<Schema extends z.ZodType>(schema: Schema, value: unknown, what: string): z.output<Schema> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ");
  throw new RestateAdminError("RESTATE_ADMIN_REQUEST_FAILED", `unexpected answer to ${what}: ${problems}`);
}
