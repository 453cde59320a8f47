/**
 * Approvers' decisions on sign-only transactions. A decision is stored once per approver and
 * transaction: the unique index makes a second one (a retry, a second click, a replayed request)
 * a no-op that the caller reports as not counted.
 */
import { and, asc, eq } from "drizzle-orm";
import type { ApprovalDecision } from "../../signers/approval-signature.ts";
import type { Database } from "../client.ts";
import { transactionApprovals } from "../schema/index.ts";

export type StoredApprovalDecision = { approver: string; decision: ApprovalDecision; decidedAt: Date };

/**
 * Stores one verified decision; answers it as stored, or null when this approver had decided on
 * the transaction already (nothing changes then). A retry of the request that stored it (same
 * `requestId`) finds its own decision and answers it again.
 */
export async function recordApprovalDecision(
  db: Database,
  parameters: { transactionId: string; approver: string; decision: ApprovalDecision; signature: string; requestId: string; decidedAt?: Date },
): Promise<StoredApprovalDecision | null> {
  const [row] = await db
    .insert(transactionApprovals)
    .values({
      transactionId: parameters.transactionId,
      approver: parameters.approver.toLowerCase(),
      decision: parameters.decision,
      signature: parameters.signature,
      requestId: parameters.requestId,
      ...(parameters.decidedAt ? { decidedAt: parameters.decidedAt } : {}),
    })
    .onConflictDoNothing({ target: [transactionApprovals.transactionId, transactionApprovals.approver] })
    .returning({ approver: transactionApprovals.approver, decision: transactionApprovals.decision, decidedAt: transactionApprovals.decidedAt });
  if (row) return row;
  const [existing] = await db
    .select({ approver: transactionApprovals.approver, decision: transactionApprovals.decision, decidedAt: transactionApprovals.decidedAt, requestId: transactionApprovals.requestId })
    .from(transactionApprovals)
    .where(and(eq(transactionApprovals.transactionId, parameters.transactionId), eq(transactionApprovals.approver, parameters.approver.toLowerCase())))
    .limit(1);
  if (!existing || existing.requestId !== parameters.requestId) return null;
  return { approver: existing.approver, decision: existing.decision, decidedAt: existing.decidedAt };
}

/** Every decision on a transaction, oldest first. */
export async function listApprovalDecisions(db: Database, transactionId: string): Promise<StoredApprovalDecision[]> {
  return db
    .select({ approver: transactionApprovals.approver, decision: transactionApprovals.decision, decidedAt: transactionApprovals.decidedAt })
    .from(transactionApprovals)
    .where(eq(transactionApprovals.transactionId, transactionId))
    .orderBy(asc(transactionApprovals.decidedAt), asc(transactionApprovals.id));
}

/** The signatures of the approvals stored for a transaction, oldest first (the smart-wallet route packs them into its user operation). */
export async function listApprovalSignatures(db: Database, transactionId: string): Promise<{ approver: string; signature: string }[]> {
  return db
    .select({ approver: transactionApprovals.approver, signature: transactionApprovals.signature })
    .from(transactionApprovals)
    .where(and(eq(transactionApprovals.transactionId, transactionId), eq(transactionApprovals.decision, "approve")))
    .orderBy(asc(transactionApprovals.decidedAt), asc(transactionApprovals.id));
}
