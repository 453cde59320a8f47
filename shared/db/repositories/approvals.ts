/**
 * Transactions by approval state, for the operator: `pending` means waiting now (phase
 * `awaiting-approval`, whatever route put it there), the other states are read from the approval
 * object the record keeps. Oldest first, paged by a cursor (creation time and id).
 */
import { and, asc, eq, isNotNull, sql, type SQL } from "drizzle-orm";
import type { ApprovalState } from "../../signers/approval.ts";
import type { Database } from "../client.ts";
import { transactions } from "../schema/index.ts";

export type ApprovalCursor = { createdAt: string; id: string };

export type ApprovalRow = Pick<
  typeof transactions.$inferSelect,
  "id" | "organizationId" | "chainId" | "signerAddress" | "target" | "executor" | "phase" | "approval" | "createdAt" | "phaseChangedAt"
>;

export async function listApprovals(
  db: Database,
  parameters: { state: ApprovalState; limit: number; after?: ApprovalCursor | undefined },
): Promise<{ rows: ApprovalRow[]; nextCursor: ApprovalCursor | null }> {
  const conditions: SQL[] = [
    parameters.state === "pending"
      ? eq(transactions.phase, "awaiting-approval")
      : and(isNotNull(transactions.approval), sql`${transactions.approval}->>'state' = ${parameters.state}`)!,
  ];
  // Ordered by creation time to the millisecond (what a cursor carries), then id.
  const createdMs = sql`date_trunc('milliseconds', ${transactions.createdAt})`;
  const after = parameters.after;
  if (after) conditions.push(sql`(${createdMs}, ${transactions.id}) > (${after.createdAt}::timestamptz, ${after.id})`);
  const rows = await db
    .select({
      id: transactions.id,
      organizationId: transactions.organizationId,
      chainId: transactions.chainId,
      signerAddress: transactions.signerAddress,
      target: transactions.target,
      executor: transactions.executor,
      phase: transactions.phase,
      approval: transactions.approval,
      createdAt: transactions.createdAt,
      phaseChangedAt: transactions.phaseChangedAt,
    })
    .from(transactions)
    .where(and(...conditions))
    .orderBy(asc(createdMs), asc(transactions.id))
    .limit(parameters.limit + 1);
  const page = rows.slice(0, parameters.limit);
  const last = page.at(-1);
  return { rows: page, nextCursor: rows.length > parameters.limit && last ? { createdAt: last.createdAt.toISOString(), id: last.id } : null };
}

export function encodeApprovalCursor(cursor: ApprovalCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString("base64url");
}

/** The cursor in `value`, or undefined when it is not one this module encoded. */
export function decodeApprovalCursor(value: string): ApprovalCursor | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as Partial<ApprovalCursor>;
    const at = typeof parsed.createdAt === "string" ? Date.parse(parsed.createdAt) : Number.NaN;
    if (typeof parsed.id === "string" && /^[A-Za-z0-9_-]{1,128}$/.test(parsed.id) && at >= Date.UTC(1970, 0, 1) && at <= Date.UTC(9999, 11, 31)) {
      return { createdAt: parsed.createdAt!, id: parsed.id };
    }
  } catch {
    // fall through
  }
  return undefined;
}
