/** One row per reconciliation round of a chain: what was checked and what was repaired. */
import { bigserial, index, integer, jsonb, pgTable, timestamp } from "drizzle-orm/pg-core";

export type ReconciliationFinding = {
  kind: "record-repaired" | "workflow-redriven" | "nonce-resynced" | "nonce-gap" | "nonce-filled" | "reorged-after-completion" | "holder-settled";
  reference: string;
  detail: string;
};

export const reconciliationReports = pgTable(
  "reconciliation_reports",
  {
    id: bigserial({ mode: "number" }).primaryKey(),
    chainId: integer().notNull(),
    startedAt: timestamp({ withTimezone: true, mode: "date" }).notNull(),
    finishedAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
    transactionsChecked: integer().notNull(),
    processorsChecked: integer().notNull(),
    findings: jsonb().$type<ReconciliationFinding[]>().notNull(),
  },
  (table) => [index("reconciliation_reports_chain_idx").on(table.chainId, table.finishedAt)],
);
