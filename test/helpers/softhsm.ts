/**
 * SoftHSM2 for tests: whether it is installed (tests that need it skip locally without it and fail
 * under CI=true; `.ci/run` installs Debian's softhsm2), and a token folder of its own per test file
 * (SOFTHSM2_CONF pointing at a temporary directory), with keys made by `npm run hsm:key` as an
 * operator would make them.
 */
import { execFile, spawnSync } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import type { Hex } from "viem";
import { resolveHsmModulePath } from "../../shared/signers/hsm/pkcs11-token.ts";

export const softHsmAvailable = resolveHsmModulePath(undefined) !== null && spawnSync("softhsm2-util", ["--version"]).status === 0;

/** Throws under CI=true when SoftHSM2 is missing; answers whether the tests may run. */
export function requireSoftHsm(): boolean {
  if (!softHsmAvailable && process.env.CI) throw new Error("SoftHSM2 is missing: .ci/run installs it from Debian's softhsm2 package");
  return softHsmAvailable;
}

export type SoftHsmToken = {
  /** The environment of a process that uses the token (SOFTHSM2_CONF, HSM_TOKEN_LABEL, HSM_PIN). */
  env: Record<string, string>;
  /** Makes a key with `npm run hsm:key` (initialising the token the first time); answers its address. */
  newKey(label: string): Promise<Hex>;
};

export async function createSoftHsmToken(label = "ddwf-test"): Promise<SoftHsmToken> {
  const dir = await mkdtemp(join(tmpdir(), "ddwf-softhsm-"));
  const conf = join(dir, "softhsm2.conf");
  await writeFile(conf, `directories.tokendir = ${dir}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { SOFTHSM2_CONF: conf, HSM_TOKEN_LABEL: label, HSM_PIN: `pin-${crypto.randomUUID().slice(0, 8)}` };
  return {
    env,
    newKey: async (keyLabel) => {
      const { stdout } = await promisify(execFile)(process.execPath, [resolve("services/cli/create-hsm-key.ts"), "--init", "--label", keyLabel], {
        env: { ...process.env, ...env },
      });
      const address = stdout.trim().split("\n").at(-1) ?? "";
      if (!/^0x[0-9a-f]{40}$/.test(address)) throw new Error(`npm run hsm:key printed no address: ${stdout}`);
      return address as Hex;
    },
  };
}
