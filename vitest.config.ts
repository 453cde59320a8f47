import { defineConfig } from "vitest/config";

/**
 * Three projects:
 * - unit: pure functions and HTTP routes through app.request(); no processes.
 * - storage: repositories and migrations on PGlite and, with TEST_DATABASE_URL, on PostgreSQL.
 * - integration: real restate-server and anvil from node_modules, started once by the global set-up.
 */
export default defineConfig({
  test: {
    reporters: process.env.CI ? ["default", ["json", { outputFile: ".data/test-results.json" }]] : ["default"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: "storage",
          include: ["test/storage/**/*.test.ts"],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/helpers/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // The stack (restate-server, anvil) is shared; files run one at a time so that a test
          // that kills the worker never disturbs another file's invocations.
          fileParallelism: false,
        },
      },
    ],
  },
});
