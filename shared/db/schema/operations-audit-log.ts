/** One row per operator action that reached an operator handler. */
import { index, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

export const AUDIT_OUTCOMES = ["success", "failure"] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

export const operationsAuditLog = pgTable(
  "operations_audit_log",
  {
    id: uuid().primaryKey().defaultRandom(),
    requestId: text().notNull(),
    actorId: text().notNull(),
    /** The role the actor had when acting, kept even if it changes later. */
    actorRole: text().notNull(),
    route: text().notNull(),
    /** Arguments after sanitizing (credentials in URLs redacted). */
    arguments: jsonb().$type<Record<string, unknown>>().notNull(),
    reason: text(),
    startedAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
    finishedAt: timestamp({ withTimezone: true, mode: "date" }),
    outcome: text().$type<AuditOutcome>(),
    errorCode: text(),
    errorMessage: text(),
  },
  (table) => [
    index("operations_audit_log_started_at_idx").on(table.startedAt.desc(), table.id),
    index("operations_audit_log_route_idx").on(table.route, table.startedAt),
    index("operations_audit_log_actor_idx").on(table.actorId, table.startedAt),
  ],
);
