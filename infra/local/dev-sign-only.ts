/**
 * The sign-only route of `npm start`. With HSM_TOKEN_LABEL set, the configured HSM is used as it is.
 * Otherwise, where SoftHSM2 is installed, a development token lives in DATA_DIR/softhsm (its own
 * SOFTHSM2_CONF, a user PIN made once and kept in a file): the first start initialises the token
 * and makes a key in it; later starts find both (the token is never initialised again, which
 * would wipe its keys). On its own chain the key is funded and anvil accounts 3 to 5 are its
 * approvers (2 of 3, one hour). Without SoftHSM2 the route is off.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createTestClient, http, parseEther, publicActions, type Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import type { Config } from "../../shared/config.ts";
import { resolveHsmModulePath } from "../../shared/signers/hsm/pkcs11-token.ts";
import { provisionHsmKey } from "../../shared/signers/hsm/provision-key.ts";
import { anvilDevelopmentKeys } from "./anvil.ts";

export const DEV_TOKEN_LABEL = "ddwf-dev";
export const DEV_KEY_LABEL = "ddwf-dev-signer";
const DEV_EXPIRY_SECONDS = 3600;

export type LocalSignOnly = { env: Record<string, string>; lines: string[] };

export async function prepareLocalSignOnly(config: Config, parameters: { dataDir: string; chainRpcUrl: string; ownChain: boolean }): Promise<LocalSignOnly> {
  if (config.HSM_TOKEN_LABEL) {
    return { env: {}, lines: [`  Sign-only route   HSM token "${config.HSM_TOKEN_LABEL}" as configured (${resolveHsmModulePath(config.HSM_MODULE_PATH) ?? "no PKCS#11 module found"})`] };
  }
  const modulePath = resolveHsmModulePath(config.HSM_MODULE_PATH);
  if (!modulePath) {
    return { env: {}, lines: ["  Sign-only route   off (SoftHSM2 is not installed: apt-get install softhsm2, or set HSM_TOKEN_LABEL and HSM_PIN for your HSM)"] };
  }
  const dir = join(parameters.dataDir, "softhsm");
  const tokenDir = join(dir, "tokens");
  await mkdir(tokenDir, { recursive: true });
  const conf = join(dir, "softhsm2.conf");
  await writeFile(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const pin = await keptSecret(join(dir, "pin"));
  // The module reads SOFTHSM2_CONF when it is loaded: this process and the worker use the same token folder.
  process.env.SOFTHSM2_CONF = conf;
  const key = await provisionHsmKey({ modulePath, tokenLabel: DEV_TOKEN_LABEL, pin, keyLabel: DEV_KEY_LABEL, initializeWithSoPin: pin, reuseLabelled: true });

  const env: Record<string, string> = { SOFTHSM2_CONF: conf, HSM_TOKEN_LABEL: DEV_TOKEN_LABEL, HSM_PIN: pin };
  const lines = [
    `  Sign-only route   HSM key ${key.address} in SoftHSM2 token "${DEV_TOKEN_LABEL}" (${dir}); ${
      key.tokenCreated ? "token and key created now" : key.created ? "key created now" : "found from an earlier start"
    }`,
  ];
  if (config.SIGN_ONLY_POLICIES) {
    lines.push("                    approval policies from SIGN_ONLY_POLICIES");
  } else if (parameters.ownChain) {
    const approvers = anvilDevelopmentKeys(6).slice(3).map((privateKey) => privateKeyToAddress(privateKey));
    env.SIGN_ONLY_POLICIES = JSON.stringify({ [key.address]: { approvers, threshold: 2, expiresAfterSeconds: DEV_EXPIRY_SECONDS } });
    lines.push(`                    approvals: 2 of anvil accounts 3-5 (${approvers.join(", ")}), expiring after 1 h`);
  } else {
    lines.push("                    no approval policy: set SIGN_ONLY_POLICIES for this key");
  }
  if (parameters.ownChain) {
    const client = createTestClient({ mode: "anvil", transport: http(parameters.chainRpcUrl) }).extend(publicActions);
    if ((await client.getBalance({ address: key.address as Hex })) === 0n) await client.setBalance({ address: key.address as Hex, value: parseEther("100") });
  }
  return { env, lines };
}

/** A random secret kept in `file` (owner-readable only), made on first use. */
async function keptSecret(file: string): Promise<string> {
  try {
    return (await readFile(file, "utf8")).trim();
  } catch {
    const secret = randomBytes(12).toString("hex");
    await writeFile(file, `${secret}\n`, { mode: 0o600 });
    return secret;
  }
}
