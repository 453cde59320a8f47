/**
 * `npm run hsm:key -- [--label <key label>] [--init [--so-pin <pin>]]`: makes a secp256k1 key in the
 * HSM token that HSM_TOKEN_LABEL names (module HSM_MODULE_PATH, else Debian's SoftHSM2; user PIN
 * HSM_PIN) and prints its Ethereum address on stdout. The private key is generated in the token and
 * never leaves it. `--init` first initialises the token in a free slot when none carries the label
 * (development and tests: SoftHSM2 with SOFTHSM2_CONF pointing at a token folder); the security
 * officer PIN is `--so-pin`, or HSM_PIN when not given.
 */
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../../shared/config.ts";
import { resolveHsmModulePath } from "../../shared/signers/hsm/pkcs11-token.ts";
import { provisionHsmKey } from "../../shared/signers/hsm/provision-key.ts";
import { EXIT_CONFIG_INVALID } from "../../shared/process/run-process.ts";

const USAGE = "usage: npm run hsm:key -- [--label <key label>] [--init [--so-pin <pin>]]   (HSM_TOKEN_LABEL and HSM_PIN set)\n";

let options;
try {
  options = parseArgs({
    options: { label: { type: "string", default: "ddwf-signer" }, init: { type: "boolean", default: false }, "so-pin": { type: "string" }, help: { type: "boolean", default: false } },
  }).values;
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  process.exit(64);
}
if (options.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

let config;
try {
  config = loadConfig(process.env);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof ConfigError ? EXIT_CONFIG_INVALID : 1);
}
const modulePath = resolveHsmModulePath(config.HSM_MODULE_PATH);
const problems = [
  ...(modulePath ? [] : [{ variable: "HSM_MODULE_PATH", problem: "is unset and SoftHSM2 is not installed; name the PKCS#11 module" }]),
  ...(config.HSM_TOKEN_LABEL ? [] : [{ variable: "HSM_TOKEN_LABEL", problem: "must name the token to make the key in" }]),
  ...(config.HSM_PIN ? [] : [{ variable: "HSM_PIN", problem: "must be the token's user PIN" }]),
];
if (problems.length > 0 || !modulePath || !config.HSM_TOKEN_LABEL || !config.HSM_PIN) {
  process.stderr.write(`${new ConfigError(problems).message}\n`);
  process.exit(EXIT_CONFIG_INVALID);
}

try {
  const key = await provisionHsmKey({
    modulePath,
    tokenLabel: config.HSM_TOKEN_LABEL,
    pin: config.HSM_PIN,
    keyLabel: options.label,
    ...(options.init ? { initializeWithSoPin: options["so-pin"] ?? config.HSM_PIN } : {}),
  });
  if (key.tokenCreated) process.stderr.write(`initialised token "${config.HSM_TOKEN_LABEL}" in ${modulePath}\n`);
  process.stderr.write(`made secp256k1 key "${options.label}" in token "${config.HSM_TOKEN_LABEL}" (sensitive, not extractable); its address:\n`);
  process.stdout.write(`${key.address}\n`);
} catch (error) {
  process.stderr.write(`hsm:key failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
