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
  const [started, database] = await Promise.all([provider.start(), startEmbeddedPostgres({ dataDir: "memory://" })]);
  const databaseUrl = `${database.url}?${EMBEDDED_URL_MARKER}`;
  const migrator = connectDatabase({ url: databaseUrl, embedded: true, poolSize: 2 });
  await migrateDatabase(migrator.sql);
  await migrator.close();
  project.provide("stack", started.stack);
  project.provide("databaseUrl", databaseUrl);
  return async () => {
    await started.stop();
    await database.stop();
  };
}
