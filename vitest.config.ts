import { defineConfig } from "vitest/config";

/**
 * Five projects:
 * - unit: pure functions and HTTP routes through app.request(); no processes.
 * - storage: repositories and migrations on PGlite and, with TEST_DATABASE_URL, on PostgreSQL.
 * - integration: real restate-server and anvil from node_modules, started once by the global set-up.
 * - replay: the transaction (sign-only and smart-wallet routes included), identity-recovery and webhook suites again, in always-replay mode.
 * - cluster: node-loss drills on a three-node Restate cluster with HAProxy and worker replicas; each
 *   file starts its own cluster. Heavy on a 2-core machine, so it runs after the other projects.
 */

/** The suites the `replay` project runs again in always-replay mode. */
const REPLAY_SUITES = [
  "test/integration/transaction-execution.test.ts",
  "test/integration/transaction-second-run.test.ts",
  "test/integration/transaction-cancel.test.ts",
  "test/integration/transaction-nonce-safety.test.ts",
  "test/integration/transaction-nonce-fill.test.ts",
  "test/integration/transaction-stuck.test.ts",
  "test/integration/transaction-sign-only.test.ts",
  "test/integration/transaction-custody.test.ts",
  "test/integration/transaction-smart-wallet.test.ts",
  "test/integration/transaction-smart-wallet-reorg.test.ts",
  "test/integration/identity-recovery.test.ts",
  "test/integration/webhook-delivery.test.ts",
];

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
          // One test process for the files in turn: each fresh one re-imported viem, the SDK and
          // drizzle, 3-4 s a file on two cores (80 → 52 s for 8 files, measured). The processes under
          // test are children either way; what a file leaves behind in this one is its own.
          isolate: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          // The transaction, identity-recovery and webhook suites again, on a restate-server that
          // suspends every invocation whenever it waits: each step after the first runs after a
          // replay of the journal, so a handler that is not deterministic fails here.
          name: "replay",
          include: REPLAY_SUITES,
          isolate: false,
          globalSetup: ["test/helpers/global-setup.ts"],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          // After the integration project, never at the same time: two stacks on two cores.
          sequence: { groupOrder: 2 },
        },
      },
      {
        test: {
          name: "cluster",
          include: ["test/cluster/**/*.test.ts"],
          testTimeout: 240_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          // Last, alone: its clusters and the integration stacks would share two cores otherwise.
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
