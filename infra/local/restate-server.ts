/**
 * Starts the real restate-server from npm as an owned child process and waits until its admin API
 * and ingress answer. Telemetry is off (`disable-telemetry`, DO_NOT_TRACK=1).
 */
import { resolve } from "node:path";
import { RESTATE_SIGNING_KEY_ENV } from "../../shared/restate/request-identity.ts";
import { restateServerBinary } from "./binaries.ts";
import { startManagedProcess, type ManagedProcess } from "./managed-process.ts";
import { waitFor } from "./wait-for.ts";

export type StartRestateServerParameters = {
  baseDir: string;
  logFile: string | "inherit";
  configFile?: string;
  host?: string;
  /** When given, override the ports of the config file (tests use free ports). */
  ports?: { ingress: number; admin: number; node: number };
  /** Extra RESTATE_* variables, e.g. a shorter inactivity timeout for always-replay tests. */
  env?: Record<string, string>;
  /** PEM file of the ed25519 key that signs every request to service endpoints (request identity). */
  requestIdentityKeyFile?: string;
  startTimeoutMs?: number;
};

export type RunningRestateServer = {
  ingressUrl: string;
  adminUrl: string;
  nodeUrl: string;
  process: ManagedProcess;
  stop(): Promise<void>;
};

export async function startRestateServer(parameters: StartRestateServerParameters): Promise<RunningRestateServer> {
  const host = parameters.host ?? "127.0.0.1";
  const ports = parameters.ports ?? { ingress: 8080, admin: 9070, node: 5122 };
  const env: Record<string, string> = {
    DO_NOT_TRACK: "1",
    RESTATE_DISABLE_TELEMETRY: "true",
    RESTATE_BASE_DIR: resolve(parameters.baseDir),
    RESTATE_LOG_DISABLE_ANSI_CODES: "true",
    ...(parameters.requestIdentityKeyFile ? { [RESTATE_SIGNING_KEY_ENV]: resolve(parameters.requestIdentityKeyFile) } : {}),
    ...parameters.env,
  };
  if (parameters.ports) {
    env.RESTATE_INGRESS__BIND_ADDRESS = `${host}:${ports.ingress}`;
    env.RESTATE_ADMIN__BIND_ADDRESS = `${host}:${ports.admin}`;
    env.RESTATE_BIND_ADDRESS = `${host}:${ports.node}`;
    env.RESTATE_ADVERTISED_ADDRESS = `http://${host}:${ports.node}/`;
  }
  const args = ["--no-logo"];
  if (parameters.configFile) args.push("--config-file", resolve(parameters.configFile));
  const child = startManagedProcess({
    name: "restate-server",
    command: restateServerBinary(),
    args,
    env,
    output: parameters.logFile,
  });
  const adminUrl = `http://${host}:${ports.admin}`;
  const ingressUrl = `http://${host}:${ports.ingress}`;
  try {
    await waitFor(
      "restate-server to answer on its admin API and ingress",
      async () => {
        const [admin, ingress] = await Promise.all([
          fetch(`${adminUrl}/health`, { signal: AbortSignal.timeout(1_000) }),
          fetch(`${ingressUrl}/restate/health`, { signal: AbortSignal.timeout(1_000) }),
        ]);
        return admin.ok && ingress.ok;
      },
      { timeoutMs: parameters.startTimeoutMs ?? 60_000, intervalMs: 200, abort: child.exited.then((e) => `exited with ${e.code ?? e.signal}`) },
    );
  } catch (error) {
    await child.stop({ graceMs: 2_000 });
    throw error;
  }
  return {
    ingressUrl,
    adminUrl,
    nodeUrl: `http://${host}:${ports.node}`,
    process: child,
    stop: () => child.stop({ graceMs: 15_000 }),
  };
}
