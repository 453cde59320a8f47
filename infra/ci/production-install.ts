/**
 * The production image's install, checked without Docker: package.json, the lockfile and the
 * runtime folders (as infra/docker/Dockerfile copies them) go to a clean folder, `npm ci
 * --omit=dev --ignore-scripts` and `npm rebuild pkcs11js` install them (as the image does), and the worker and the DAPI must each start there and turn ready (on
 * embedded databases of their own, the worker without registering), and the DAPI must serve the
 * operator console. Run by .ci/run with Node 24.
 */
import { spawnSync } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../local/free-port.ts";
import { startManagedProcess } from "../local/managed-process.ts";
import { waitFor } from "../local/wait-for.ts";

const root = resolve(import.meta.dirname, "../..");
const folder = await mkdtemp(join(tmpdir(), "ddwf-production-install-"));
const say = (line: string) => process.stdout.write(`production install: ${line}\n`);

try {
  for (const entry of ["package.json", "package-lock.json", ".npmrc", "shared", "services", "admin-api"]) {
    await cp(join(root, entry), join(folder, entry), { recursive: true });
  }
  say(`npm ci --omit=dev in ${folder}`);
  const install = spawnSync("npm", ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: folder, stdio: "inherit" });
  if (install.status !== 0) throw new Error(`npm ci --omit=dev failed with ${install.status}`);
  // The one install script the image runs: the PKCS#11 addon of the sign-only route, which must then load.
  const rebuild = spawnSync("npm", ["rebuild", "pkcs11js"], { cwd: folder, stdio: "inherit" });
  if (rebuild.status !== 0) throw new Error(`npm rebuild pkcs11js failed with ${rebuild.status}`);
  const load = spawnSync(process.execPath, ["-e", "new (require('pkcs11js').PKCS11)()"], { cwd: folder, stdio: "inherit" });
  if (load.status !== 0) throw new Error("the pkcs11js addon built in the production install does not load");
  say("pkcs11js built and loads");

  for (const [name, entry, port] of [
    ["worker", "services/main.ts", "OPS_PORT"],
    ["dapi", "admin-api/main.ts", "DAPI_PORT"],
  ] as const) {
    const [httpPort, workerPort] = await Promise.all([freePort(), freePort()]);
    const child = startManagedProcess({
      name,
      command: process.execPath,
      args: [join(folder, entry)],
      cwd: folder,
      env: { PGLITE_DATA_DIR: "memory://", WORKER_AUTO_REGISTER: "false", WORKER_PORT: String(workerPort), [port]: String(httpPort), LOG_LEVEL: "warn" },
      output: join(root, ".data", "test-logs", `production-install-${name}.log`),
    });
    try {
      await waitFor(`the ${name} installed with --omit=dev to be ready`, async () => (await fetch(`http://127.0.0.1:${httpPort}/health/ready`)).status === 200, {
        timeoutMs: 60_000,
        abort: child.exited.then((exit) => `exited with ${exit.code ?? exit.signal}; see .data/test-logs/production-install-${name}.log`),
      });
      say(`${name} ready`);
      if (name === "dapi") {
        // The operator console's files ship in admin-api/ and need nothing installed.
        const page = await fetch(`http://127.0.0.1:${httpPort}/console/console.js`);
        if (page.status !== 200) throw new Error(`the DAPI installed with --omit=dev answers ${page.status} for /console/console.js`);
        say("console served");
      }
    } finally {
      await child.stop({ graceMs: 5_000 });
    }
  }
} finally {
  await rm(folder, { recursive: true, force: true });
}
