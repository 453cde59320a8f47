/**
 * Starts one restate-server and one anvil for the whole integration run, plus one embedded
 * database (PGlite over the wire protocol) that the test files and the worker processes they start
 * share. Everything is stopped by PID at the end.
 */
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../../shared/db/embedded/start-embedded-postgres.ts";
import { connectDatabase, EMBEDDED_URL_MARKER } from "../../shared/db/client.ts";
import { migrateDatabase } from "../../shared/db/migrate.ts";
import { selectStackProvider, type TestStack } from "./stack.ts";

declare module "vitest" {
  export interface ProvidedContext {
    stack: TestStack;
    databaseUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const provider = selectStackProvider(process.env);
  // The `replay` project runs the same suites on a restate-server in always-replay mode.
  const alwaysReplay = project.name === "replay";
  const [started, database] = await Promise.allSettled([provider.start({ alwaysReplay }), startEmbeddedPostgres({ dataDir: "memory://" })]);
  const stop = async () => {
    if (started.status === "fulfilled") await started.value.stop();
    if (database.status === "fulfilled") await database.value.stop();
  };
  try {
    if (started.status === "rejected") throw started.reason;
    if (database.status === "rejected") throw database.reason;
    const databaseUrl = `${database.value.url}?${EMBEDDED_URL_MARKER}`;
    const migrator = connectDatabase({ url: databaseUrl, embedded: true, poolSize: 2 });
    await migrateDatabase(migrator.sql);
    await migrator.close();
    project.provide("stack", started.value.stack);
    project.provide("databaseUrl", databaseUrl);
  } catch (error) {
    // Whatever did start is stopped by PID before the error is reported.
    await stop();
    throw error;
  }
  return stop;
}
