/** Evidence of EngineCanary step executions: every execution inserts a row, so re-runs show. */
import { bigserial, index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

export const canarySteps = pgTable(
  "canary_steps",
  {
    id: bigserial({ mode: "number" }).primaryKey(),
    runKey: text().notNull(),
    step: integer().notNull(),
    executedAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [index("canary_steps_run_key_idx").on(table.runKey)],
);
