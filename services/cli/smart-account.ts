/**
 * `npm run smart-account -- --owner <address> [--owner …] --threshold <M> [--salt-nonce <n>]`: the
 * Safe 4337 account the smart-wallet route deploys for these owners, on the chain CHAIN_RPC_URL and
 * CHAIN_ID name. Prints on stdout the executor selection to submit transactions with (its `wallet`
 * is the account's address, which follows from owners, threshold and salt nonce; a random salt
 * nonce when none is given), and on stderr whether the account exists yet. A new account is
 * deployed by its first transaction, paid from its own balance: fund the address first.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { BaseError } from "viem";
import { ConfigError, loadConfig } from "../../shared/config.ts";
import { createChainAccess } from "../../shared/evm/chain-access.ts";
import { predictSafeAddress, readProxyCreationCode, SAFE_CONTRACTS } from "../../shared/evm/erc4337/safe-account.ts";
import { EXIT_CONFIG_INVALID } from "../../shared/process/run-process.ts";
import { executorSelectionSchema } from "../../shared/signers/executor-selection.ts";

const USAGE = "usage: npm run smart-account -- --owner <address> [--owner <address> …] --threshold <M> [--salt-nonce <decimal>]   (CHAIN_RPC_URL and CHAIN_ID set)\n";
const EXIT_USAGE = 64;

const fail = (message: string, code: number): never => {
  process.stderr.write(`${message}\n`);
  process.exit(code);
};

let options;
try {
  options = parseArgs({
    options: { owner: { type: "string", multiple: true, default: [] }, threshold: { type: "string" }, "salt-nonce": { type: "string" }, help: { type: "boolean", default: false } },
  }).values;
} catch (error) {
  fail(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`, EXIT_USAGE);
}
if (options!.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const threshold = Number(options!.threshold);
if (!Number.isInteger(threshold) || threshold < 1) fail(`--threshold: must be a whole number of owners, at least 1 (got ${options!.threshold ?? "nothing"})\n${USAGE}`, EXIT_USAGE);
const saltNonce = options!["salt-nonce"] ?? BigInt(`0x${randomBytes(16).toString("hex")}`).toString();
const parsed = executorSelectionSchema.safeParse({
  route: "smart-wallet",
  wallet: "0x0000000000000000000000000000000000000000",
  threshold,
  account: { owners: options!.owner, saltNonce },
});
if (!parsed.success) {
  const flags: Record<string, string> = { threshold: "--threshold", "account.owners": "--owner", "account.saltNonce": "--salt-nonce" };
  const problems = parsed.error.issues.map((issue) => {
    const path = issue.path.join(".");
    const flag = Object.entries(flags).find(([prefix]) => path.startsWith(prefix))?.[1] ?? path;
    return `${flag}: ${issue.message}`;
  });
  fail(`${problems.join("\n")}\n${USAGE}`, EXIT_USAGE);
}
const owners = options!.owner;
if (new Set(owners.map((owner) => owner.toLowerCase())).size !== owners.length) fail(`--owner: an owner is named twice\n${USAGE}`, EXIT_USAGE);
if (threshold > owners.length) fail(`--threshold: ${threshold} is more than the ${owners.length} owners\n${USAGE}`, EXIT_USAGE);

let config;
try {
  config = loadConfig(process.env);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error), error instanceof ConfigError ? EXIT_CONFIG_INVALID : 1);
}
const chain = createChainAccess({ rpcUrl: config!.CHAIN_RPC_URL, chainId: config!.CHAIN_ID });

try {
  const factoryCode = await chain.client.getCode({ address: SAFE_CONTRACTS.proxyFactory });
  if (!factoryCode || factoryCode === "0x") {
    fail(`the Safe proxy factory ${SAFE_CONTRACTS.proxyFactory} is not on chain ${config!.CHAIN_ID} at ${config!.CHAIN_RPC_URL}; the smart-wallet route cannot deploy accounts there`, 1);
  }
  const wallet = predictSafeAddress({ owners, threshold, saltNonce: BigInt(saltNonce), proxyCreationCode: await readProxyCreationCode(chain.client) });
  const code = await chain.client.getCode({ address: wallet });
  const deployed = Boolean(code && code !== "0x");
  process.stderr.write(
    deployed
      ? `smart account ${wallet} exists on chain ${config!.CHAIN_ID}\n`
      : `smart account ${wallet} does not exist yet on chain ${config!.CHAIN_ID}: its first transaction deploys it; fund the address first (it pays its own gas)\n`,
  );
  process.stdout.write(`${JSON.stringify({ route: "smart-wallet", wallet, threshold, account: { owners, saltNonce } })}\n`);
} catch (error) {
  const reason = error instanceof BaseError ? error.shortMessage : error instanceof Error ? error.message : String(error);
  fail(`could not read chain ${config!.CHAIN_ID} at ${config!.CHAIN_RPC_URL}: ${reason}`, 1);
}
