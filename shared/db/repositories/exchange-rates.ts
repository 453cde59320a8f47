/** Exchange-rate history. */
import { desc, eq } from "drizzle-orm";
import type { Database } from "../client.ts";
import { exchangeRates } from "../schema/index.ts";

export async function insertExchangeRate(db: Database, rate: { pair: string; rate: string; sourceTimestamp: Date; source: string }): Promise<void> {
  await db.insert(exchangeRates).values(rate);
}

export async function listExchangeRates(db: Database, pair: string, limit = 100) {
  return db.select().from(exchangeRates).where(eq(exchangeRates.pair, pair)).orderBy(desc(exchangeRates.id)).limit(limit);
}
