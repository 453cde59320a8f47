/**
 * Approvers' decisions on sign-only transactions. A decision is stored once per approver and
 * transaction: the unique index makes a second one (a retry, a second click, a replayed request)
 * a no-op that the caller reports as not counted.
 */
import { asc, eq } from "drizzle-orm";
import type { ApprovalDecision } from "../../signers/approval-signature.ts";
import type { Database } from "../client.ts";
import { transactionApprovals } from "../schema/index.ts";

export type StoredApprovalDecision = { approver: string; decision: ApprovalDecision; decidedAt: Date };

/**
 * Stores one verified decision; answers it as stored, or null when this approver had decided on
 * the transaction already (nothing changes then).
 */
export async function recordApprovalDecision(
  db: Database,
  parameters: { transactionId: string; approver: string; decision: ApprovalDecision; signature: string; decidedAt?: Date },
): Promise<StoredApprovalDecision | null> {
  const [row] = await db
    .insert(transactionApprovals)
    .values({
      transactionId: parameters.transactionId,
      approver: parameters.approver.toLowerCase(),
      decision: parameters.decision,
      signature: parameters.signature,
      ...(parameters.decidedAt ? { decidedAt: parameters.decidedAt } : {}),
    })
    .onConflictDoNothing({ target: [transactionApprovals.transactionId, transactionApprovals.approver] })
    .returning({ approver: transactionApprovals.approver, decision: transactionApprovals.decision, decidedAt: transactionApprovals.decidedAt });
  return row ?? null;
}

/** Every decision on a transaction, oldest first. */
export async function listApprovalDecisions(db: Database, transactionId: string): Promise<StoredApprovalDecision[]> {
  return db
    .select({ approver: transactionApprovals.approver, decision: transactionApprovals.decision, decidedAt: transactionApprovals.decidedAt })
    .from(transactionApprovals)
    .where(eq(transactionApprovals.transactionId, transactionId))
    .orderBy(asc(transactionApprovals.decidedAt), asc(transactionApprovals.id));
}
