/**
 * `npm start`: the whole ddwf stack on one machine, from nothing but `npm install`.
 *
 * Starts, as children it owns (stopped by PID on Ctrl-C): restate-server (restate.toml, data in
 * .data/restate) and anvil (chain 31337, state in .data/anvil), and serves the embedded PGlite
 * database itself (.data/pglite); then the worker and the DAPI as separate processes sharing that
 * database. Anything whose URL is configured (RESTATE_ADMIN_URL, CHAIN_RPC_URL, DATABASE_URL) is
 * used as it is instead of being started. A second start finds the state of the first. Where
 * SoftHSM2 is installed the sign-only route is on with a development token in DATA_DIR/softhsm. On
 * its own chain the smart-wallet route is on too: ERC-4337 contracts on anvil and alto as a child.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { connectDatabase, EMBEDDED_URL_MARKER } from "../../shared/db/client.ts";
import { ensureRequestIdentityKeys } from "../../shared/restate/request-identity.ts";
import { generateSecretKeyEntry } from "../../shared/webhooks/secret-box.ts";
import { setUpIssuanceDemo } from "../demo/asset-issuance-demo.ts";
import { setUpRecoveryDemo } from "../demo/identity-recovery-demo.ts";
import { privateKeyToAddress } from "viem/accounts";
import { loadConfigOrExit, ownChildren, prepareLocalDatabase, say, startLocalChain, stopAllWhenItExits, type Stoppable } from "./launcher-parts.ts";
import { prepareLocalSignOnly } from "./dev-sign-only.ts";
import { prepareLocalSmartWallet } from "./dev-smart-wallet.ts";
import { startManagedProcess, type ManagedProcess } from "./managed-process.ts";
import { startRestateServer } from "./restate-server.ts";
import { waitFor } from "./wait-for.ts";

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const dataDir = resolve(config.DATA_DIR);
  const logDir = join(dataDir, "logs");
  await mkdir(logDir, { recursive: true });
  const children = ownChildren();
  const shutdown = children.shutdown;

  try {
    const childEnv: Record<string, string> = {};

    let identityLine: string | undefined;
    if (!config.explicit.restateAdmin) {
      // Only this Restate may call the worker: it signs with a key kept in DATA_DIR, the worker checks.
      const identity = await ensureRequestIdentityKeys(join(dataDir, "restate-identity"));
      childEnv.RESTATE_IDENTITY_KEYS = [...config.RESTATE_IDENTITY_KEYS, identity.publicKey].join(",");
      identityLine = `  Request identity  Restate signs with ${identity.privateKeyFile}; the worker accepts only ${identity.publicKey}`;
      say(`ddwf: starting restate-server (restate.toml, data in ${join(dataDir, "restate")})`);
      const restate = await startRestateServer({
        baseDir: join(dataDir, "restate"),
        configFile: resolve("restate.toml"),
        logFile: join(logDir, "restate-server.log"),
        requestIdentityKeyFile: identity.privateKeyFile,
      });
      children.add({ name: "restate-server", stop: restate.stop });
      stopAllWhenItExits(restate.process, children);
      childEnv.RESTATE_ADMIN_URL = restate.adminUrl;
      childEnv.RESTATE_INGRESS_URL = restate.ingressUrl;
    }

    const chain = await startLocalChain(config, { dataDir, logDir, children });
    const devSigners = chain.devSigners;
    if (!config.explicit.chainRpc) childEnv.CHAIN_RPC_URL = chain.rpcUrl;
    if (devSigners.length > 0) childEnv.SIGNER_DEV_KEYS = devSigners.join(",");

    const signOnly = await prepareLocalSignOnly(config, { dataDir, chainRpcUrl: chain.rpcUrl, ownChain: !config.explicit.chainRpc });
    Object.assign(childEnv, signOnly.env);

    const smartWallet = await prepareLocalSmartWallet(config, { chainRpcUrl: chain.rpcUrl, ownChain: !config.explicit.chainRpc, logDir, children });
    Object.assign(childEnv, smartWallet.env);

    if (!config.WEBHOOK_SECRET_KEYS) childEnv.WEBHOOK_SECRET_KEYS = await localWebhookSecretKeys(dataDir);

    const { databaseUrl, printedKey } = await prepareLocalDatabase(config, children);
    childEnv.DATABASE_URL = databaseUrl;
    if (printedKey) childEnv.DAPI_BOOTSTRAP_API_KEY = printedKey;

    const worker = startChild("worker", "services/main.ts", childEnv, logDir);
    children.add(worker);
    stopAllWhenItExits(worker.process, children);
    const dapi = startChild("dapi", "admin-api/main.ts", childEnv, logDir);
    children.add(dapi);
    stopAllWhenItExits(dapi.process, children);

    const hostUrl = (port: number) => `http://${config.HTTP_HOST}:${port}`;
    const abort = Promise.race([worker.process.exited, dapi.process.exited]).then(() => "a child process exited; see .data/logs");
    await Promise.all([
      waitFor("the worker to be ready", () => isReady(`${hostUrl(config.OPS_PORT)}/health/ready`), { timeoutMs: 120_000, abort }),
      waitFor("the DAPI to be ready", () => isReady(`${hostUrl(config.DAPI_PORT)}/health/ready`), { timeoutMs: 120_000, abort }),
    ]);

    // On its own chain, npm start sets up the identity-recovery and asset-issuance demos once (state in DATA_DIR).
    const demoLines: string[] = [];
    if (devSigners.length > 0) {
      const demoDb = connectDatabase({ url: databaseUrl, poolSize: 2, embedded: databaseUrl.includes(EMBEDDED_URL_MARKER) });
      try {
        const { demo } = await setUpRecoveryDemo({
          stateFile: join(dataDir, "demo-identity-recovery.json"),
          rpcUrl: childEnv.CHAIN_RPC_URL ?? config.CHAIN_RPC_URL,
          chainId: config.CHAIN_ID,
          agentPrivateKey: devSigners[0] as `0x${string}`,
          db: demoDb.db,
          ingressUrl: childEnv.RESTATE_INGRESS_URL ?? config.RESTATE_INGRESS_URL,
        });
        demoLines.push(`  Demo              invitation ${demo.invitationId} waits for its investor: npm run demo:accept -- ${demo.invitationId}`);
        const { demo: issuance } = await setUpIssuanceDemo({
          stateFile: join(dataDir, "demo-asset-issuance.json"),
          rpcUrl: childEnv.CHAIN_RPC_URL ?? config.CHAIN_RPC_URL,
          chainId: config.CHAIN_ID,
          registryAgentPrivateKey: devSigners[1] as `0x${string}`,
          issuerPrivateKey: devSigners[2] as `0x${string}`,
          db: demoDb.db,
          ingressUrl: childEnv.RESTATE_INGRESS_URL ?? config.RESTATE_INGRESS_URL,
        });
        demoLines.push(`  Demo              issuance ${issuance.issuanceId} of a token to three investors: npm run demo:issuance -- ${issuance.issuanceId}`);
      } finally {
        await demoDb.close();
      }
    }

    const ingress = childEnv.RESTATE_INGRESS_URL ?? config.RESTATE_INGRESS_URL;
    const admin = childEnv.RESTATE_ADMIN_URL ?? config.RESTATE_ADMIN_URL;
    say("");
    say(`  Restate ingress   ${ingress}`);
    say(`  Restate admin     ${admin}`);
    say(`  Chain RPC         ${childEnv.CHAIN_RPC_URL ?? config.CHAIN_RPC_URL} (chain ${config.CHAIN_ID})`);
    say(`  Database          ${config.DATABASE_URL ? "DATABASE_URL" : databaseUrl}`);
    say(`  Worker endpoint   ${config.WORKER_ADVERTISED_URL}`);
    say(`  Worker ops        ${hostUrl(config.OPS_PORT)}/health/ready  ${hostUrl(config.OPS_PORT)}/metrics`);
    say(`  DAPI              ${hostUrl(config.DAPI_PORT)}`);
    say(`  Operator console  ${hostUrl(config.DAPI_PORT)}/console`);
    say(`  Logs              ${logDir}`);
    if (devSigners.length > 0) {
      say(`  Dev signers       ${devSigners.map((key) => privateKeyToAddress(key as `0x${string}`)).join(", ")} (anvil accounts)`);
    }
    say(
      config.FIREBLOCKS_API_KEY
        ? `  Custody route     Fireblocks at ${config.FIREBLOCKS_BASE_PATH} (asset ${config.FIREBLOCKS_ASSET_ID})`
        : "  Custody route     off (set FIREBLOCKS_API_KEY and FIREBLOCKS_SECRET_KEY_PATH to turn it on)",
    );
    for (const line of signOnly.lines) say(line);
    for (const line of smartWallet.lines) say(line);
    if (identityLine) say(identityLine);
    for (const line of demoLines) say(line);
    if (printedKey) say(`  Operator API key  ${printedKey}   (shown once; stored hashed)`);
    say("");
    say(`ddwf ready: worker and DAPI are up (Ctrl-C stops everything)`);
  } catch (error) {
    say(`ddwf: start-up failed: ${error instanceof Error ? error.message : String(error)}`);
    await shutdown("start-up failed", 1);
  }
}

/** The webhook key ring of a local stack, created once in DATA_DIR (owner-readable only). */
async function localWebhookSecretKeys(dataDir: string): Promise<string> {
  const file = join(dataDir, "webhook-secret-keys");
  try {
    return (await readFile(file, "utf8")).trim();
  } catch {
    const ring = generateSecretKeyEntry("local-1");
    await writeFile(file, `${ring}\n`, { mode: 0o600 });
    return ring;
  }
}

function startChild(name: string, entry: string, env: Record<string, string>, logDir: string): Stoppable & { process: ManagedProcess } {
  const child = startManagedProcess({
    name,
    command: process.execPath,
    args: [resolve(entry)],
    env,
    output: join(logDir, `${name}.log`),
  });
  return { name, process: child, stop: () => child.stop({ graceMs: 10_000 }) };
}

async function isReady(url: string): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
  return response.status === 200;
}

await main();
