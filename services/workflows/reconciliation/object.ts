/**
 * TransactionReconciler: one recurring loop per chain (keyed by the chain id, see
 * shared/restate/recurring-object.ts) that repairs drift by itself.
 *
 * Each round:
 *  1. records in a non-terminal phase unchanged for longer than the threshold, one page after the
 *     last round's (a cursor, so every such record is reached in bounded rounds): a record whose run
 *     is live is compared with the run's status and repaired if it still shows what was read; a
 *     record whose run ended without finishing it (killed, purged, never started) is re-driven —
 *     the new run reports, resumes the signed bytes, or starts (a later round does it while the
 *     ended run still has a sleep due, whose timer Restate would deliver into the new run);
 *  2. the senders of the chain, one page after the last round's: a pending nonce above the key's
 *     next nonce means another sender used the key, and the key resyncs; a nonce held by a
 *     transaction whose run ended is resumed (its bytes are at the node) or filled with a zero-value
 *     self-transfer (they are not), and its record re-driven; a nonce nobody holds is filled;
 *  3. completed transactions of the last RECONCILE_REORG_DEPTH blocks whose block left the chain go
 *     back to `confirming` (with an event), their bytes are sent again and their run re-driven;
 *  4. a report row lists what was checked and found, and the counts go to metrics.
 * Compensations: none; every repair moves a record or a nonce towards what the chain says.
 */
import type * as restate from "@restatedev/restate-sdk";
import type { Hex } from "viem";
import type { Database } from "../../../shared/db/client.ts";
import {
  insertReconciliationReport,
  listActiveSenders,
  listHolderRecords,
  listRecentlyCompleted,
  listStaleTransactions,
  reopenReorgedTransaction,
  repairTransactionRecord,
  type ActiveSender,
  type ReconciliationFinding,
} from "../../../shared/db/repositories/reconciliation.ts";
import { listLiveTransactionSignatures } from "../../../shared/db/repositories/transaction-signatures.ts";
import { getTransaction, requestTransactionCancellation } from "../../../shared/db/repositories/transactions.ts";
import type { ChainAccess, ChainRegistry } from "../../../shared/evm/chain-access.ts";
import type { RestateAdminClient } from "../../../shared/restate/admin-client.ts";
import { createRecurringObject } from "../../../shared/restate/recurring-object.ts";
import { runStep, stepRetryPolicies } from "../../../shared/restate/step-retry.ts";
import { clearFinishedRuns, runStates, type RunState } from "../../../shared/restate/workflow-runs.ts";
import { transactionProcessor } from "../../transaction-processor/api.ts";
import { highestFees } from "../../transaction-processor/fees.ts";
import { processorKey } from "../../transaction-processor/state.ts";
import { isKnownTransaction } from "../transaction-execution/chain-observation.ts";
import { transactionExecutionWorkflow } from "../transaction-execution/api.ts";
import { storedOperationOfRecord, submissionOf } from "../transaction-execution/operation.ts";
import { TERMINAL_PHASES } from "../transaction-execution/status.ts";
import { startWebhookDeliveries, storeWebhookDeliveries } from "../webhook-delivery/emit-event.ts";

export type ReconcilerDependencies = {
  db: Database;
  chains: ChainRegistry;
  admin: RestateAdminClient;
  settings: { staleAfterMs: number; batchSize: number; reorgDepth: number };
  metrics: { reconciliationFinding(kind: ReconciliationFinding["kind"]): void };
};

const NON_TERMINAL = ["submitting", "awaiting-approval", "confirming", "blocked"] as const;
const WORKFLOW = transactionExecutionWorkflow.name;
const CURSOR = "cursor";

type Cursor = { records: string | null; senders: ActiveSender | null };
type Ctx = restate.ObjectContext<{ cursor: Cursor }>;

export function createTransactionReconciler(dependencies: ReconcilerDependencies) {
  const { db, admin, settings } = dependencies;
  const retry = stepRetryPolicies.bounded(60_000);

  /**
   * Clears the key's finished runs and starts it again; a live run is never raced, and a finished
   * run that may still fire a timer into the next one (same invocation id) defers the re-drive to a
   * later round.
   */
  const redrive = async (ctx: Ctx, transactionId: string): Promise<boolean> => {
    // The run's input is the stored operation: the same one, so its first step takes it as stored.
    const cleared = await runStep(
      ctx,
      `clear-runs-${transactionId}`,
      async () => {
        const runs = await clearFinishedRuns(admin, WORKFLOW, transactionId);
        if (runs.kind === "active") return null;
        if (runs.kind === "timers-pending") return { deferredUntil: runs.retryAt };
        const row = await getTransaction(db, transactionId);
        return row ? { submission: submissionOf(storedOperationOfRecord(row)) } : null;
      },
      retry,
    );
    if (!cleared) return false;
    if ("deferredUntil" in cleared) {
      ctx.console.info("re-drive deferred: the ended run still has a timer due; a later round starts it", { transactionId, retryAt: cleared.deferredUntil });
      return false;
    }
    ctx.workflowSendClient(transactionExecutionWorkflow, transactionId).run(cleared.submission);
    return true;
  };

  const visitRecords = async (ctx: Ctx, chainId: number, startedAt: number, cursor: Cursor, findings: ReconciliationFinding[]) => {
    const page = await runStep(
      ctx,
      "stale-records",
      async () =>
        (
          await listStaleTransactions(db, { chainId, phases: NON_TERMINAL, olderThan: new Date(startedAt - settings.staleAfterMs), limit: settings.batchSize, afterId: cursor.records })
        ).map((row) => ({ id: row.id, phase: row.phase, txHash: row.txHash, phaseChangedAt: row.phaseChangedAt.toISOString() })),
      retry,
    );
    cursor.records = page.length < settings.batchSize ? null : page.at(-1)!.id;
    const runs = await runStep(ctx, "record-runs", async () => Object.fromEntries(await runStates(admin, WORKFLOW, page.map((row) => row.id))), retry);
    for (const record of page) {
      const run: RunState = runs[record.id] ?? { kind: "none" };
      if (run.kind === "none") {
        if (await redrive(ctx, record.id)) findings.push({ kind: "workflow-redriven", reference: record.id, detail: `record ${record.phase} with no run; started` });
        continue;
      }
      const status = await ctx.workflowClient(transactionExecutionWorkflow, record.id).status();
      if (run.kind === "finished" && !TERMINAL_PHASES.includes(status.phase)) {
        // The run ended without finishing the transaction (killed through the admin API).
        if (await redrive(ctx, record.id)) findings.push({ kind: "workflow-redriven", reference: record.id, detail: `run ended (${run.failure ?? run.result}) at ${status.phase}; started again` });
        continue;
      }
      if (status.phase === record.phase && status.txHash === record.txHash) continue;
      const repaired = await runStep(
        ctx,
        `repair-${record.id}`,
        () =>
          repairTransactionRecord(
            db,
            record.id,
            { phase: status.phase, txHash: status.txHash, nonce: status.nonce, errorCode: status.error?.code ?? null, errorMessage: status.error?.message ?? null, blockNumber: status.blockNumber ?? null },
            { phase: record.phase, phaseChangedAt: new Date(record.phaseChangedAt) },
          ),
        retry,
      );
      if (repaired) findings.push({ kind: "record-repaired", reference: record.id, detail: `record said ${record.phase}, workflow says ${status.phase}` });
    }
    return page.length;
  };

  const visitSender = async (ctx: Ctx, chain: ChainAccess, sender: ActiveSender, findings: ReconciliationFinding[]) => {
    const chainId = chain.chainId;
    const keyOfSender = processorKey(sender.organizationId, sender.signerAddress, chainId);
    const processorSender = { organizationId: sender.organizationId, signerAddress: sender.signerAddress, chainId };
    const processor = ctx.objectClient(transactionProcessor, keyOfSender);
    const snapshot = await processor.snapshot();
    if (snapshot.nextNonce === null) return;
    const nonces = await runStep(
      ctx,
      `nonces-${keyOfSender}`,
      async () => {
        const address = sender.signerAddress as Hex;
        const [latest, pending] = await Promise.all([
          chain.client.getTransactionCount({ address, blockTag: "latest" }),
          chain.client.getTransactionCount({ address, blockTag: "pending" }),
        ]);
        return { latest, pending };
      },
      retry,
    );
    if (nonces.pending > snapshot.nextNonce) {
      const resynced = await processor.resync(processorSender);
      findings.push({ kind: "nonce-resynced", reference: keyOfSender, detail: `chain pending nonce ${nonces.pending} above the key's ${snapshot.nextNonce}; now ${resynced.nextNonce}` });
      return;
    }
    if (nonces.pending < snapshot.nextNonce && snapshot.inFlight.length === 0) {
      // Nonces handed out that the chain never saw, with nothing in flight to fill them.
      const resynced = await processor.resync(processorSender);
      findings.push({ kind: "nonce-gap", reference: keyOfSender, detail: `key's next nonce ${snapshot.nextNonce} above the chain's ${nonces.pending} with nothing in flight; now ${resynced.nextNonce}` });
      return;
    }

    const holders = snapshot.inFlight.filter((entry) => !entry.transactionId.startsWith("fill-"));
    const runs = await runStep(ctx, `holder-runs-${keyOfSender}`, async () => Object.fromEntries(await runStates(admin, WORKFLOW, holders.map((entry) => entry.transactionId))), retry);
    const dead = holders.filter((entry) => runs[entry.transactionId]?.kind !== "active");
    const records = await runStep(
      ctx,
      `holder-records-${keyOfSender}`,
      async () => (await listHolderRecords(db, dead.map((entry) => entry.transactionId))).map((row) => ({ id: row.id, phase: row.phase })),
      retry,
    );
    for (const holder of dead) {
      const record = records.find((row) => row.id === holder.transactionId);
      if (!record || record.phase === "completed" || record.phase === "failed") {
        // Its transaction ended (the settle call was lost) or is unknown: the nonce is not held.
        await processor.settle({ transactionId: holder.transactionId });
        findings.push({ kind: "holder-settled", reference: holder.transactionId, detail: `nonce ${holder.nonce} released; record ${record?.phase ?? "missing"}` });
        continue;
      }
      if (holder.nonce >= nonces.latest) {
        const live = await runStep(
          ctx,
          `holder-bytes-${holder.transactionId}`,
          async () => {
            const signatures = await listLiveTransactionSignatures(db, holder.transactionId);
            const onNonce = signatures.filter((signature) => signature.nonce === holder.nonce);
            let known = false;
            for (const signature of onNonce) if (!known) known = await isKnownTransaction(chain, signature.hash as Hex);
            const previous = onNonce.reduce((best, signature) => highestFees(best, signature), { maxFeePerGas: "0", maxPriorityFeePerGas: "0" });
            return { known, previous: onNonce.length > 0 ? previous : null };
          },
          retry,
        );
        if (!live.known) {
          // The run ended between signing and broadcast (or its bytes left the mempool): nobody
          // will send them. Fill the nonce, and let the re-driven run record the cancellation.
          await runStep(ctx, `cancel-${holder.transactionId}`, () => requestTransactionCancellation(db, { transactionId: holder.transactionId, reason: "run ended" }), retry);
          const filled = await processor.fill({ ...processorSender, nonce: holder.nonce, reason: "run-ended", transactionId: holder.transactionId, ...(live.previous ? { previous: live.previous } : {}) });
          findings.push({ kind: "nonce-filled", reference: keyOfSender, detail: `nonce ${holder.nonce} of ${holder.transactionId}, whose run ended: ${filled.kind}` });
        }
      }
      if (await redrive(ctx, holder.transactionId)) {
        findings.push({ kind: "workflow-redriven", reference: holder.transactionId, detail: `its run ended while it held nonce ${holder.nonce}` });
      }
    }

    // The lowest nonce with nothing at the node: a hole when no transaction holds it.
    const hole = nonces.pending;
    if (hole < snapshot.nextNonce && !snapshot.inFlight.some((entry) => entry.nonce === hole)) {
      const filled = await processor.fill({ ...processorSender, nonce: hole, reason: "orphaned" });
      findings.push({ kind: "nonce-filled", reference: keyOfSender, detail: `nonce ${hole} held by nobody: ${filled.kind}` });
    }
    for (const fill of snapshot.inFlight.filter((entry) => entry.transactionId.startsWith("fill-") && entry.nonce < nonces.latest)) {
      await processor.settle({ transactionId: fill.transactionId });
    }
  };

  const visitSenders = async (ctx: Ctx, chain: ChainAccess, startedAt: number, cursor: Cursor, findings: ReconciliationFinding[]) => {
    const page = await runStep(
      ctx,
      "active-senders",
      async () => (await listActiveSenders(db, { chainId: chain.chainId, since: new Date(startedAt - 86_400_000), limit: settings.batchSize, after: cursor.senders })).map((s) => ({ ...s })),
      retry,
    );
    cursor.senders = page.length < settings.batchSize ? null : page.at(-1)!;
    for (const sender of page) await visitSender(ctx, chain, sender, findings);
    return page.length;
  };

  const checkRecentCompletions = async (ctx: Ctx, chain: ChainAccess, findings: ReconciliationFinding[]) => {
    const reorged = await runStep(
      ctx,
      "reorged-completions",
      async () => {
        const head = Number(await chain.client.getBlockNumber());
        const recent = await listRecentlyCompleted(db, { chainId: chain.chainId, fromBlock: head - settings.reorgDepth, limit: settings.batchSize });
        const canonical = new Map<number, string | null>();
        const lost: { id: string; blockHash: string; txHash: string | null }[] = [];
        for (const record of recent) {
          const number = record.blockNumber!;
          if (!canonical.has(number)) canonical.set(number, number > head ? null : (await chain.client.getBlock({ blockNumber: BigInt(number) })).hash);
          if (canonical.get(number) !== record.blockHash) lost.push({ id: record.id, blockHash: record.blockHash!, txHash: record.txHash });
        }
        return lost;
      },
      retry,
    );
    for (const record of reorged) {
      const deliveries = await runStep(
        ctx,
        `reopen-${record.id}`,
        async () => {
          // The bytes that were mined go back to the node first, then the record says so. A
          // refusal is fine here: the re-driven run sends them again while it watches.
          const mined = (await listLiveTransactionSignatures(db, record.id)).find((signature) => signature.hash === record.txHash);
          if (mined) await chain.client.sendRawTransaction({ serializedTransaction: mined.raw as Hex }).catch(() => undefined);
          const reopened = await reopenReorgedTransaction(db, { transactionId: record.id, blockHash: record.blockHash });
          if (!reopened) return [];
          return storeWebhookDeliveries(db, {
            id: `evt_${record.id}_${reopened.sequence}`,
            type: "transaction.confirming",
            data: { transactionId: record.id, phase: "confirming", reason: "reorg", lostBlockHash: record.blockHash },
          });
        },
        retry,
      );
      startWebhookDeliveries(ctx, deliveries);
      await redrive(ctx, record.id);
      findings.push({ kind: "reorged-after-completion", reference: record.id, detail: `block ${record.blockHash} left the chain; back to confirming` });
    }
  };

  return createRecurringObject({
    name: "TransactionReconciler",
    tick: async (context: restate.ObjectContext, key: string) => {
      const ctx = context as unknown as Ctx;
      const chainId = Number(key);
      const chain = dependencies.chains.get(chainId);
      if (!chain) {
        ctx.console.warn("reconciler for a chain this worker does not serve", { chainId });
        return;
      }
      const startedAt = await ctx.date.now();
      const findings: ReconciliationFinding[] = [];
      const cursor: Cursor = (await ctx.get(CURSOR)) ?? { records: null, senders: null };

      const transactionsChecked = await visitRecords(ctx, chainId, startedAt, cursor, findings);
      const processorsChecked = await visitSenders(ctx, chain, startedAt, cursor, findings);
      await checkRecentCompletions(ctx, chain, findings);
      ctx.set(CURSOR, cursor);

      await runStep(
        ctx,
        "report",
        async () => {
          await insertReconciliationReport(db, { chainId, startedAt: new Date(startedAt), transactionsChecked, processorsChecked, findings });
          for (const finding of findings) dependencies.metrics.reconciliationFinding(finding.kind);
        },
        retry,
      );
      if (findings.length > 0) ctx.console.info("reconciliation repaired drift", { chainId, findings: findings.length });
    },
  });
}

export type TransactionReconciler = ReturnType<typeof createTransactionReconciler>;
