/**
 * The parts a test run stands on, and where they come from. `binaries` (the default) starts the
 * npm-shipped restate-server and anvil on free ports; `testcontainers` (DDWF_TEST_STACK=testcontainers)
 * runs the same images in Docker where an engine exists. Tests only see `TestStack`.
 */
import { mkdir, mkdtemp } from "node:fs/promises";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { startAnvil } from "../../infra/local/anvil.ts";
import { freePort } from "../../infra/local/free-port.ts";
import { startRestateServer } from "../../infra/local/restate-server.ts";
import { ensureRequestIdentityKeys } from "../../shared/restate/request-identity.ts";

export type TestStack = {
  restateIngressUrl: string;
  restateAdminUrl: string;
  /** The node port's URL (`/health`, `/metrics`); null where the provider does not expose it. */
  restateNodeUrl: string | null;
  chainRpcUrl: string;
  chainId: number;
  /** Where processes started by tests write their logs. */
  logDir: string;
  /** Restate signs its requests with this key pair; workers accept only the public key. */
  restateIdentity?: { publicKey: string; privateKeyFile: string };
};

export type StartedStack = { stack: TestStack; stop(): Promise<void> };

export type StackOptions = {
  /**
   * Always-replay mode: restate-server asks every invocation to suspend as soon as it waits for
   * anything, so each later step runs after a replay of the whole journal. Non-determinism in a
   * handler (a step that is skipped, reordered or renamed on replay) fails the run instead of
   * hiding until a production crash.
   */
  alwaysReplay?: boolean;
  /** A restate-server configuration file (the benchmark runs with the project's `restate.toml`). */
  restateConfigFile?: string;
  /** Extra RESTATE_* settings on top of it. */
  restateEnv?: Record<string, string>;
};

export type StackProvider = { name: string; start(options?: StackOptions): Promise<StartedStack> };

/** restate-server settings of always-replay mode: suspend at once when an invocation waits. */
export const ALWAYS_REPLAY_ENV = {
  RESTATE_WORKER__INVOKER__INACTIVITY_TIMEOUT: "0s",
} as const;

export const LOG_DIR = resolve(".data/test-logs");

export const binariesStackProvider: StackProvider = {
  name: "binaries",
  async start(options) {
    await mkdir(LOG_DIR, { recursive: true });
    const baseDir = await mkdtemp(join(tmpdir(), "ddwf-restate-"));
    const [ingress, admin, node, anvilPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    // Not inside baseDir: restate-server would take a folder there for another node's data.
    const identity = await ensureRequestIdentityKeys(await mkdtemp(join(tmpdir(), "ddwf-restate-identity-")));
    const [restate, anvil] = await Promise.all([
      startRestateServer({
        baseDir,
        ports: { ingress, admin, node },
        logFile: join(LOG_DIR, options?.alwaysReplay ? "restate-server-replay.log" : "restate-server.log"),
        requestIdentityKeyFile: identity.privateKeyFile,
        ...(options?.restateConfigFile ? { configFile: options.restateConfigFile } : {}),
        env: {
          // A configuration file brings its own partitions and memory; the tests' defaults fill in otherwise.
          ...(options?.restateConfigFile ? {} : { RESTATE_DEFAULT_NUM_PARTITIONS: "2", RESTATE_ROCKSDB_TOTAL_MEMORY_SIZE: "256 MiB" }),
          RESTATE_CLUSTER_NAME: "ddwf-test",
          ...(options?.alwaysReplay ? ALWAYS_REPLAY_ENV : {}),
          ...options?.restateEnv,
        },
      }),
      startAnvil({ port: anvilPort, logFile: join(LOG_DIR, options?.alwaysReplay ? "anvil-replay.log" : "anvil.log") }),
    ]);
    return {
      stack: {
        restateIngressUrl: restate.ingressUrl,
        restateAdminUrl: restate.adminUrl,
        restateNodeUrl: restate.nodeUrl,
        chainRpcUrl: anvil.rpcUrl,
        chainId: anvil.chainId,
        logDir: LOG_DIR,
        restateIdentity: identity,
      },
      stop: async () => {
        await Promise.all([restate.stop(), anvil.stop()]);
      },
    };
  },
};

/**
 * Docker-backed provider for machines with an engine. `testcontainers` is not a dependency of this
 * project; install it next to it to use this provider.
 */
export const testcontainersStackProvider: StackProvider = {
  name: "testcontainers",
  async start() {
    const moduleName = "testcontainers";
    let tc: { GenericContainer: new (image: string) => TestContainerBuilder };
    try {
      tc = (await import(moduleName)) as typeof tc;
    } catch {
      throw new Error("DDWF_TEST_STACK=testcontainers needs `npm install --no-save testcontainers` and a Docker engine");
    }
    const restate = await new tc.GenericContainer("docker.restate.dev/restatedev/restate:1.7.12")
      .withEnvironment({ RESTATE_DISABLE_TELEMETRY: "true", DO_NOT_TRACK: "1" })
      .withExposedPorts(8080, 9070)
      .start();
    const anvil = await new tc.GenericContainer("ghcr.io/foundry-rs/foundry:stable")
      .withCommand(["anvil --host 0.0.0.0 --chain-id 31337"])
      .withExposedPorts(8545)
      .start();
    const host = restate.getHost();
    return {
      stack: {
        restateIngressUrl: `http://${host}:${restate.getMappedPort(8080)}`,
        restateAdminUrl: `http://${host}:${restate.getMappedPort(9070)}`,
        restateNodeUrl: null,
        chainRpcUrl: `http://${anvil.getHost()}:${anvil.getMappedPort(8545)}`,
        chainId: 31337,
        logDir: LOG_DIR,
      },
      stop: async () => {
        await Promise.all([restate.stop(), anvil.stop()]);
      },
    };
  },
};

type StartedTestContainer = { getHost(): string; getMappedPort(port: number): number; stop(): Promise<unknown> };
type TestContainerBuilder = {
  withEnvironment(env: Record<string, string>): TestContainerBuilder;
  withExposedPorts(...ports: number[]): TestContainerBuilder;
  withCommand(command: string[]): TestContainerBuilder;
  start(): Promise<StartedTestContainer>;
};

export function selectStackProvider(env: Record<string, string | undefined>): StackProvider {
  const name = env.DDWF_TEST_STACK ?? "binaries";
  if (name === "binaries") return binariesStackProvider;
  if (name === "testcontainers") return testcontainersStackProvider;
  throw new Error(`DDWF_TEST_STACK must be "binaries" or "testcontainers", got "${name}"`);
}
