/** Exchange rates fetched by the per-pair refresh schedulers, kept as history. */
import { bigserial, index, pgTable, text, timestamp } from "drizzle-orm/pg-core";

export const exchangeRates = pgTable(
  "exchange_rates",
  {
    id: bigserial({ mode: "number" }).primaryKey(),
    /** `BASE-QUOTE`, e.g. EUR-USD. */
    pair: text().notNull(),
    /** Decimal string, as the feed gave it after validation. */
    rate: text().notNull(),
    sourceTimestamp: timestamp({ withTimezone: true, mode: "date" }).notNull(),
    fetchedAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
    source: text().notNull(),
  },
  (table) => [index("exchange_rates_pair_idx").on(table.pair, table.fetchedAt)],
);
