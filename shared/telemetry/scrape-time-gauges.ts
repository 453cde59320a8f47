/**
 * Gauges read at scrape time, with no cache: when Prometheus scrapes, each callback asks its source
 * (the Restate admin SQL introspection, the database) and reports what it says now. A source that
 * fails yields no sample for that gauge and a logged warning; the scrape itself still succeeds.
 *
 * - dalp.ddwf.workflow.stalled{service}: (0 for every bound service with none) invocations not completed, pending longer than
 *   STALL_PENDING_THRESHOLD_MS and not modified for STALL_NO_MUTATION_THRESHOLD_MS (paused and
 *   backing-off ones included: they need attention too; delayed calls count from their start time);
 * - dalp.ddwf.invocations.active{service, status}: unfinished invocations by service and status;
 * - dalp.ddwf.transaction_processor.queue_depth{key}: invocations queued per TransactionProcessor key;
 * - dalp.ddwf.transactions{phase}: stored transactions by their current phase.
 */
import type { Meter, ObservableResult } from "@opentelemetry/api";
import type { Database } from "../db/client.ts";
import { countTransactionsByPhase } from "../db/repositories/transactions.ts";
import type { Logger } from "../logger.ts";
import type { RestateAdminClient } from "../restate/admin-client.ts";

export type ScrapeTimeGaugesParameters = {
  meter: Meter;
  admin: RestateAdminClient;
  db: Database;
  logger: Logger;
  stall: { pendingThresholdMs: number; noMutationThresholdMs: number };
  /**
   * Services bound to this worker: each gets a stalled sample at every scrape, 0 when nothing of it
   * is stalled, so "nothing stalled" reads differently from "the detector is broken" (no series).
   */
  boundServices?: readonly string[];
};

/**
 * SQL over sys_invocation for stalled invocations, grouped by service; thresholds in whole seconds
 * (rounded down). A call sent with a delay is waiting on purpose until its start time (the
 * self-rescheduling loops are such calls), so its pending time counts from `scheduled_start_at`.
 * Restate 1.7 fills `scheduled_start_at` only when `scheduled_at` is read in the same query, hence
 * the three-way coalesce. "Modified" is the last change Restate recorded (journal progress, a
 * retry, a status change).
 */
export function stalledInvocationsQuery(stall: { pendingThresholdMs: number; noMutationThresholdMs: number }): string {
  const seconds = (ms: number) => Math.max(0, Math.floor(ms / 1000));
  const pending = `now() - interval '${seconds(stall.pendingThresholdMs)} seconds'`;
  return `select target_service_name as service, count(*) as stalled from sys_invocation
    where status != 'completed'
      and created_at < ${pending}
      and coalesce(scheduled_start_at, scheduled_at, created_at) < ${pending}
      and modified_at < now() - interval '${seconds(stall.noMutationThresholdMs)} seconds'
    group by target_service_name`;
}

type Attributes = Record<string, string>;

export function registerScrapeTimeGauges(parameters: ScrapeTimeGaugesParameters): void {
  const { meter, admin, db, logger } = parameters;
  /**
   * A series that vanished from its source (a stall that ended, an emptied queue) is observed once
   * as 0, so a graph shows the drop, and then no more. Gauges are read with delta temporality
   * (telemetry.ts): what a scrape shows is exactly what the callback observed, nothing repeated.
   */
  const observe = (name: string, description: string, read: () => Promise<{ value: number; attributes: Attributes }[]>) => {
    const previous = new Map<string, Attributes>();
    meter.createObservableGauge(name, { description }).addCallback(async (result: ObservableResult) => {
      let current: { value: number; attributes: Attributes }[];
      try {
        current = await read();
      } catch (error) {
        logger.warn("gauge source unavailable; no sample this scrape", { gauge: name, error: error instanceof Error ? error.message : String(error) });
        return;
      }
      const seen = new Set<string>();
      for (const sample of current) {
        const id = JSON.stringify(sample.attributes);
        seen.add(id);
        previous.set(id, sample.attributes);
        result.observe(sample.value, sample.attributes);
      }
      for (const [id, attributes] of previous) {
        if (seen.has(id)) continue;
        result.observe(0, attributes);
        previous.delete(id);
      }
    });
  };

  observe("dalp.ddwf.workflow.stalled", "Invocations pending beyond the stall thresholds, by service, at observation time", async () => {
    const stalled = new Map<string, number>((parameters.boundServices ?? []).map((service) => [service, 0]));
    for (const row of await admin.query<{ service: string; stalled: number }>(stalledInvocationsQuery(parameters.stall))) {
      stalled.set(row.service, Number(row.stalled));
    }
    return [...stalled].map(([service, value]) => ({ value, attributes: { service } }));
  });

  observe("dalp.ddwf.invocations.active", "Unfinished invocations by service and status, at observation time", async () =>
    (
      await admin.query<{ service: string; status: string; count: number }>(
        "select target_service_name as service, status, count(*) as count from sys_invocation where status != 'completed' group by target_service_name, status",
      )
    ).map((row) => ({ value: Number(row.count), attributes: { service: row.service, status: row.status } })),
  );

  observe("dalp.ddwf.transaction_processor.queue_depth", "Invocations waiting in each TransactionProcessor key's queue", async () =>
    (
      await admin.query<{ key: string; depth: number }>(
        "select service_key as key, count(*) as depth from sys_inbox where service_name = 'TransactionProcessor' group by service_key",
      )
    ).map((row) => ({ value: Number(row.depth), attributes: { key: row.key } })),
  );

  observe("dalp.ddwf.transactions", "Stored transactions by current phase", async () =>
    Object.entries(await countTransactionsByPhase(db)).map(([phase, count]) => ({ value: count, attributes: { phase } })),
  );
}
