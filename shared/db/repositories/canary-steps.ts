/** Step executions of the EngineCanary probe workflow. */
import { asc, eq, sql } from "drizzle-orm";
import type { Database } from "../client.ts";
import { canarySteps } from "../schema/index.ts";

export async function recordCanaryStep(db: Database, runKey: string, step: number): Promise<void> {
  await db.insert(canarySteps).values({ runKey, step });
}

/** How many times each step of a run executed (1 each when nothing was repeated). */
export async function countCanarySteps(db: Database, runKey: string): Promise<{ step: number; executions: number }[]> {
  return db
    .select({ step: canarySteps.step, executions: sql<number>`count(*)::int` })
    .from(canarySteps)
    .where(eq(canarySteps.runKey, runKey))
    .groupBy(canarySteps.step)
    .orderBy(asc(canarySteps.step));
}
