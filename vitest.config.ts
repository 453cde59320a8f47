import { defineConfig } from "vitest/config";

/**
 * Four projects:
 * - unit: pure functions and HTTP routes through app.request(); no processes.
 * - storage: repositories and migrations on PGlite and, with TEST_DATABASE_URL, on PostgreSQL.
 * - integration: real restate-server and anvil from node_modules, started once by the global set-up.
 * - cluster: node-loss drills on a three-node Restate cluster with HAProxy and worker replicas; each
 *   file starts its own cluster. Heavy on a 2-core machine, so it runs after the other projects.
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
      {
        test: {
          name: "cluster",
          include: ["test/cluster/**/*.test.ts"],
          testTimeout: 240_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
