/**
 * The side effects of the sign-only route, built from their dependencies like the other steps:
 * the signer's policy and the decisions stored so far (read in one journaled step of the run), and
 * the storing of one approver's decision (a journaled step of the `approve` handler), which checks
 * it first: an approver of the policy, a signature of that approver over this transaction and
 * decision, a first decision of that approver, while the transaction still waits.
 */
import type { Database } from "../../../shared/db/client.ts";
import { listApprovalDecisions, recordApprovalDecision, type StoredApprovalDecision } from "../../../shared/db/repositories/transaction-approvals.ts";
import { getTransaction } from "../../../shared/db/repositories/transactions.ts";
import { checkApproval } from "../../../shared/signers/approval-signature.ts";
import type { SignOnlyPolicies, SignOnlyPolicy } from "../../../shared/signers/sign-only-policy.ts";
import type { SignerRegistry } from "../../../shared/signers/signer-registry.ts";
import { transactionError } from "./errors.ts";
import type { ApprovalSignal, ApproveTransactionRequest } from "./types.ts";

/** The provider name a sign-only executor selection names: `{ route: "sign-only", provider: "hsm" }`. */
export const SIGN_ONLY_PROVIDER = "hsm";

export type SignOnlyStepDependencies = {
  db: Database;
  /** The HSM's keys. */
  signer: Pick<SignerRegistry, "has">;
  policies: SignOnlyPolicies;
};

const signalOf = (stored: StoredApprovalDecision): ApprovalSignal => ({ approver: stored.approver, decision: stored.decision, at: stored.decidedAt.toISOString() });

/** Phases in which a sign-only transaction takes decisions (before its signing is released). */
const OPEN_PHASES = new Set(["submitting", "awaiting-approval"]);

export function createSignOnlySteps(dependencies: SignOnlyStepDependencies) {
  const { db, policies } = dependencies;
  const policyOf = (signerAddress: string): SignOnlyPolicy | null => policies[signerAddress.toLowerCase()] ?? null;
  return {
    providerName: SIGN_ONLY_PROVIDER,
    /** Whether this worker can sign for `signerAddress` on the sign-only route: a key in the HSM and a policy. */
    knows: (signerAddress: string) => policyOf(signerAddress) !== null && dependencies.signer.has(signerAddress),
    /** The signer's policy and the decisions stored for the transaction, oldest first. */
    load: async (transactionId: string, signerAddress: string): Promise<{ policy: SignOnlyPolicy | null; decisions: ApprovalSignal[] }> => ({
      policy: policyOf(signerAddress),
      decisions: (await listApprovalDecisions(db, transactionId)).map(signalOf),
    }),
    /**
     * Checks and stores one approver's decision; throws a terminal error naming the field and the
     * reason when it does not count. `requestId` identifies the call (its retries find their own row).
     */
    decide: async (transactionId: string, request: ApproveTransactionRequest, requestId: string): Promise<ApprovalSignal> => {
      const record = await getTransaction(db, transactionId);
      if (!record) throw transactionError("TRANSACTION_NOT_FOUND", `no transaction ${transactionId}`);
      const route = typeof record.executor.route === "string" ? record.executor.route : "unknown";
      if (route !== "sign-only") throw transactionError("APPROVAL_NOT_OPEN", `transaction ${transactionId} is on the ${route} route; only sign-only transactions take approvals`);
      const decided = record.approval && record.approval.state !== "pending";
      if (!OPEN_PHASES.has(record.phase) || decided) {
        throw transactionError("APPROVAL_NOT_OPEN", `transaction ${transactionId} takes no more decisions (phase ${record.phase}${record.approval ? `, approval ${record.approval.state}` : ""})`);
      }
      // Inside the step: the clock is read once and journaled with the result.
      // eslint-disable-next-line no-restricted-properties
      if (record.approval?.expiresAt && Date.parse(record.approval.expiresAt) <= Date.now()) {
        throw transactionError("APPROVAL_NOT_OPEN", `the approval of transaction ${transactionId} expired at ${record.approval.expiresAt}`);
      }
      const policy = policyOf(record.signerAddress);
      if (!policy) throw transactionError("APPROVAL_NOT_OPEN", `signer ${record.signerAddress} has no approval policy on this worker`);
      const stored = await listApprovalDecisions(db, transactionId);
      const check = await checkApproval({
        policy,
        subject: { transactionId, chainId: record.chainId, target: record.target, data: record.data as `0x${string}`, value: record.value },
        input: request,
        // A retry of this same request must not read its own stored row as a second decision.
        decided: stored.map((row) => row.approver),
      });
      if (!check.counts && check.code !== "APPROVAL_DUPLICATE") throw transactionError(check.code, check.message, { field: check.field });
      const recorded = await recordApprovalDecision(db, { transactionId, approver: request.approver, decision: request.decision, signature: request.signature, requestId });
      if (!recorded) throw transactionError("APPROVAL_DUPLICATE", `approver: ${request.approver} has already decided on transaction ${transactionId}`, { field: "approver" });
      return signalOf(recorded);
    },
  };
}

export type SignOnlySteps = ReturnType<typeof createSignOnlySteps>;
