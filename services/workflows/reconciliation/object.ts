/**
 * TransactionReconciler: one recurring loop per chain (keyed by the chain id, see
 * shared/restate/recurring-object.ts) that repairs drift by itself.
 *
 * Each round:
 *  1. records in a non-terminal phase unchanged for longer than the threshold are compared with their
 *     workflow's status (the workflow is the truth): a record behind its workflow is repaired; a
 *     record whose workflow never started (the submit died between storing and invoking) is re-driven
 *     (a workflow runs once per key, so a second start only attaches);
 *  2. every TransactionProcessor key with recent activity is compared with the chain: a pending nonce
 *     above the key's next nonce means another sender used the key, and the key resyncs;
 *  3. a report row lists what was checked and found, and the counts go to metrics.
 * Compensations: none; every repair moves a record or a nonce towards what the chain and the
 * workflows already say.
 */
import type * as restate from "@restatedev/restate-sdk";
import type { Hex } from "viem";
import type { Database } from "../../../shared/db/client.ts";
import {
  insertReconciliationReport,
  listActiveSenders,
  listStaleTransactions,
  repairTransactionRecord,
  type ReconciliationFinding,
} from "../../../shared/db/repositories/reconciliation.ts";
import type { ChainRegistry } from "../../../shared/evm/chain-access.ts";
import { createRecurringObject } from "../../../shared/restate/recurring-object.ts";
import { runStep, stepRetryPolicies } from "../../../shared/restate/step-retry.ts";
import type { TransactionProcessorApi } from "../../transaction-processor/api.ts";
import { processorKey } from "../../transaction-processor/state.ts";
import type { TransactionExecutionWorkflowApi } from "../transaction-execution/api.ts";

export type ReconcilerDependencies = {
  db: Database;
  chains: ChainRegistry;
  settings: { staleAfterMs: number; batchSize: number };
  metrics: { reconciliationFinding(kind: ReconciliationFinding["kind"]): void };
};

const NON_TERMINAL = ["submitting", "awaiting-approval", "confirming", "blocked"] as const;

export function createTransactionReconciler(dependencies: ReconcilerDependencies) {
  const { db, settings } = dependencies;
  const retry = stepRetryPolicies.bounded(60_000);

  return createRecurringObject({
    name: "TransactionReconciler",
    tick: async (ctx: restate.ObjectContext, key: string) => {
      const chainId = Number(key);
      const chain = dependencies.chains.get(chainId);
      if (!chain) {
        ctx.console.warn("reconciler for a chain this worker does not serve", { chainId });
        return;
      }
      const startedAt = await ctx.date.now();
      const findings: ReconciliationFinding[] = [];

      const stale = await runStep(
        ctx,
        "stale-records",
        async () =>
          (await listStaleTransactions(db, { chainId, phases: NON_TERMINAL, olderThan: new Date(startedAt - settings.staleAfterMs), limit: settings.batchSize })).map(
            (row) => ({ id: row.id, phase: row.phase, txHash: row.txHash }),
          ),
        retry,
      );
      for (const record of stale) {
        const workflow = ctx.workflowClient<TransactionExecutionWorkflowApi>({ name: "TransactionExecutionWorkflow" }, record.id);
        const status = await workflow.status();
        const neverStarted = status.phase === "submitting" && status.txHash === null && status.nonce === null && record.phase === "submitting";
        if (neverStarted) {
          ctx.workflowSendClient<TransactionExecutionWorkflowApi>({ name: "TransactionExecutionWorkflow" }, record.id).run({});
          findings.push({ kind: "workflow-redriven", reference: record.id, detail: "record stayed in submitting; its workflow was started (or attached)" });
        } else if (status.phase !== record.phase || status.txHash !== record.txHash) {
          await runStep(
            ctx,
            `repair-${record.id}`,
            () =>
              repairTransactionRecord(db, record.id, {
                phase: status.phase,
                txHash: status.txHash,
                nonce: status.nonce,
                errorCode: status.error?.code ?? null,
                errorMessage: status.error?.message ?? null,
                blockNumber: status.blockNumber ?? null,
              }),
            retry,
          );
          findings.push({ kind: "record-repaired", reference: record.id, detail: `record said ${record.phase}, workflow says ${status.phase}` });
        }
      }

      const senders = await runStep(
        ctx,
        "active-senders",
        async () => (await listActiveSenders(db, { chainId, since: new Date(startedAt - 86_400_000), limit: settings.batchSize })).map((s) => ({ ...s })),
        retry,
      );
      for (const sender of senders) {
        const keyOfSender = processorKey(sender.organizationId, sender.signerAddress, chainId);
        const processor = ctx.objectClient<TransactionProcessorApi>({ name: "TransactionProcessor" }, keyOfSender);
        const snapshot = await processor.snapshot();
        if (snapshot.nextNonce === null) continue;
        const pending = await runStep(ctx, `pending-nonce-${keyOfSender}`, () => chain.client.getTransactionCount({ address: sender.signerAddress as Hex, blockTag: "pending" }), retry);
        if (pending > snapshot.nextNonce) {
          const resynced = await processor.resync();
          findings.push({ kind: "nonce-resynced", reference: keyOfSender, detail: `chain pending nonce ${pending} above the key's ${snapshot.nextNonce}; now ${resynced.nextNonce}` });
        } else if (pending < snapshot.nextNonce && snapshot.inFlight.length === 0) {
          // Nonces handed out that the chain never saw, with nothing in flight to fill them.
          const resynced = await processor.resync();
          findings.push({ kind: "nonce-gap", reference: keyOfSender, detail: `key's next nonce ${snapshot.nextNonce} above the chain's ${pending} with nothing in flight; now ${resynced.nextNonce}` });
        }
      }

      await runStep(
        ctx,
        "report",
        async () => {
          await insertReconciliationReport(db, {
            chainId,
            startedAt: new Date(startedAt),
            transactionsChecked: stale.length,
            processorsChecked: senders.length,
            findings,
          });
          for (const finding of findings) dependencies.metrics.reconciliationFinding(finding.kind);
        },
        retry,
      );
      if (findings.length > 0) ctx.console.info("reconciliation repaired drift", { chainId, findings: findings.length });
    },
  });
}

export type TransactionReconciler = ReturnType<typeof createTransactionReconciler>;
