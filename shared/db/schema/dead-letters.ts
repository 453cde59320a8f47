/** Work that spent its retry budget: kept with its cause until an operator replays or discards it. */
import { index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

export const DEAD_LETTER_KINDS = ["transaction", "webhook-delivery", "identity-recovery", "asset-issuance"] as const;
export type DeadLetterKind = (typeof DEAD_LETTER_KINDS)[number];
export const DEAD_LETTER_STATUSES = ["open", "replayed", "discarded"] as const;
export type DeadLetterStatus = (typeof DEAD_LETTER_STATUSES)[number];

export const deadLetters = pgTable(
  "dead_letters",
  {
    id: text().primaryKey(),
    kind: text().$type<DeadLetterKind>().notNull(),
    referenceId: text().notNull(),
    causeCode: text().notNull(),
    causeMessage: text().notNull(),
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    status: text().$type<DeadLetterStatus>().notNull().default("open"),
    replayCount: integer().notNull().default(0),
    createdAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
    replayedAt: timestamp({ withTimezone: true, mode: "date" }),
  },
  (table) => [
    index("dead_letters_reference_idx").on(table.kind, table.referenceId),
    index("dead_letters_status_idx").on(table.status, table.createdAt),
  ],
);
