import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { freePort } from "../../infra/local/free-port.ts";
import { waitFor } from "../../infra/local/wait-for.ts";
import { requireSoftHsm } from "../helpers/softhsm.ts";

const stack = inject("stack");
const softHsm = requireSoftHsm();

type StartRun = { child: ChildProcess; output: () => string; exited: Promise<number | null> };

function runStart(env: Record<string, string>): StartRun {
  const child = spawn(process.execPath, [resolve("infra/local/start.ts")], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  return { child, output: () => output, exited };
}

async function isDead(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/** `npm start`'s environment on a fresh data folder and free ports, with the test stack's Restate and chain. */
async function startEnvironment(prefix: string) {
  const dataDir = await mkdtemp(join(tmpdir(), prefix));
  const [workerPort, opsPort, dapiPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const env = {
    // Restate and the chain come from the test stack, so start.ts skips starting them.
    RESTATE_ADMIN_URL: stack.restateAdminUrl,
    RESTATE_INGRESS_URL: stack.restateIngressUrl,
    CHAIN_RPC_URL: stack.chainRpcUrl,
    DATA_DIR: dataDir,
    // The shared test Restate outlives this stack: leave no reconciliation loop running in it.
    RECONCILE_INTERVAL_MS: "0",
    PGLITE_DATA_DIR: join(dataDir, "pglite"),
    WORKER_PORT: String(workerPort),
    OPS_PORT: String(opsPort),
    DAPI_PORT: String(dapiPort),
  };
  return { env, opsPort, dapiPort };
}

describe("npm start", () => {
  it("starts the worker and the DAPI on an embedded database, stops them on Ctrl-C, and finds its state again", async () => {
    const { env, opsPort, dapiPort } = await startEnvironment("ddwf-start-");

    const first = runStart(env);
    await waitFor("the ready line", async () => first.output().includes("ddwf ready"), { timeoutMs: 90_000, abort: first.exited });
    expect(first.output()).toContain("Operator API key");
    expect((await fetch(`http://127.0.0.1:${opsPort}/health/ready`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${dapiPort}/health/ready`)).status).toBe(200);
    expect(first.output()).not.toContain("starting restate-server");
    expect(first.output()).not.toContain("starting anvil");

    first.child.kill("SIGINT");
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain("ddwf: stopped");
    await waitFor("the worker port to close", async () => (await fetch(`http://127.0.0.1:${opsPort}/health/live`).then(() => false, () => true)));

    const second = runStart(env);
    await waitFor("the ready line again", async () => second.output().includes("ddwf ready"), { timeoutMs: 90_000, abort: second.exited });
    // The operator key made by the first start is still in the database: no new key is printed.
    expect(second.output()).not.toContain("Operator API key");
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
    expect(await isDead(second.child.pid!)).toBe(true);
  });

  it.skipIf(!softHsm)("turns the sign-only route on with a SoftHSM2 token it makes once, and finds the same key on the next start", async () => {
    const { env, opsPort } = await startEnvironment("ddwf-start-hsm-");
    const keyLine = /Sign-only route +HSM key (0x[0-9a-f]{40}) in SoftHSM2 token "ddwf-dev" \([^)]*\); (.*)/;

    const first = runStart(env);
    await waitFor("the ready line", async () => first.output().includes("ddwf ready"), { timeoutMs: 90_000, abort: first.exited });
    const made = keyLine.exec(first.output());
    expect(made?.[2]).toBe("token and key created now");
    first.child.kill("SIGINT");
    expect(await first.exited).toBe(0);
    await waitFor("the worker port to close", async () => (await fetch(`http://127.0.0.1:${opsPort}/health/live`).then(() => false, () => true)));

    const second = runStart(env);
    await waitFor("the ready line again", async () => second.output().includes("ddwf ready"), { timeoutMs: 90_000, abort: second.exited });
    const found = keyLine.exec(second.output());
    expect(found?.[1]).toBe(made?.[1]);
    expect(found?.[2]).toBe("found from an earlier start");
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
  });
});
