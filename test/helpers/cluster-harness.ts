/**
 * The node-loss drills' own stack: three restate-server nodes, HAProxy, worker replicas (as
 * `npm run cluster` starts them, on free ports), anvil and an in-memory embedded database. The nodes
 * sign their requests with a request-identity key pair made for the run, and the replicas accept
 * only its public key (`identity`). Also
 * the DAPI in-process (for doctor) and a steady load of transactions from several senders that
 * records when each one was submitted and completed, and checks every one ran exactly once.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inArray } from "drizzle-orm";
import { encodeFunctionData, type Hex } from "viem";
import { freeClusterPorts, startCluster } from "../../infra/cluster/cluster-stack.ts";
import { compiledContract } from "../../infra/contracts/compile.ts";
import { startAnvil } from "../../infra/local/anvil.ts";
import { freePort } from "../../infra/local/free-port.ts";
import { connectDatabase, EMBEDDED_URL_MARKER } from "../../shared/db/client.ts";
import { startEmbeddedPostgres } from "../../shared/db/embedded/start-embedded-postgres.ts";
import { ensureRequestIdentityKeys } from "../../shared/restate/request-identity.ts";
import { migrateDatabase } from "../../shared/db/migrate.ts";
import { createApiKey } from "../../shared/db/repositories/api-keys.ts";
import { transactions } from "../../shared/db/schema/index.ts";
import { createReadiness } from "../../shared/http/readiness.ts";
import { createLogger } from "../../shared/logger.ts";
import { createDapiApp } from "../../admin-api/app.ts";
import { OPERATOR_PERMISSIONS } from "../../admin-api/auth/permissions.ts";
import { createOperatorServices } from "../../admin-api/operator-services.ts";
import { createTransactionClient } from "../../services/workflows/transaction-execution/client.ts";
import { TERMINAL_PHASES } from "../../services/workflows/transaction-execution/status.ts";
import { createChainTools, type Sender } from "./chain.ts";
import { LOG_DIR } from "./stack.ts";

export async function startClusterHarness(options: { senders: number; replicas: number; workerEnv?: Record<string, string> }) {
  const logDir = join(LOG_DIR, "cluster");
  const dataDir = await mkdtemp(join(tmpdir(), "ddwf-cluster-"));
  const parts: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const part of parts.reverse()) await part().catch(() => undefined);
  };
  try {
    const anvil = await startAnvil({ port: await freePort(), logFile: join(logDir, "anvil.log") });
    parts.push(anvil.stop);
    const database = await startEmbeddedPostgres({ dataDir: "memory://" });
    parts.push(database.stop);
    const databaseUrl = `${database.url}?${EMBEDDED_URL_MARKER}`;
    const handle = connectDatabase({ url: databaseUrl, embedded: true, poolSize: 4 });
    parts.push(handle.close);
    await migrateDatabase(handle.sql);
    const tools = createChainTools({ chainRpcUrl: anvil.rpcUrl, chainId: anvil.chainId, restateAdminUrl: "", restateIngressUrl: "", restateNodeUrl: null, logDir });
    const senders: Sender[] = [];
    for (let i = 0; i < options.senders; i++) senders.push(await tools.newSender("1000"));
    const identity = await ensureRequestIdentityKeys(join(dataDir, "restate-identity"));
    const cluster = await startCluster({
      ports: await freeClusterPorts(options.replicas),
      dataDir,
      logDir,
      requestIdentity: identity,
      workerEnv: {
        DATABASE_URL: databaseUrl,
        DATABASE_POOL_SIZE: "4",
        CHAIN_RPC_URL: anvil.rpcUrl,
        CHAIN_ID: String(anvil.chainId),
        SIGNER_DEV_KEYS: senders.map((sender) => sender.privateKey).join(","),
        TX_RECEIPT_POLL_INTERVAL_MS: "200",
        CHAIN_MONITOR_POLL_MS: "200",
        RECONCILE_INTERVAL_MS: "0",
        LOG_LEVEL: "info",
        ...options.workerEnv,
      },
    });
    parts.push(cluster.stop);

    const services = createOperatorServices({
      db: handle.db,
      restate: { adminUrl: cluster.urls.admin, ingressUrl: cluster.urls.ingress, nodeUrls: cluster.urls.nodes },
      doctorProbeTimeoutMs: 3_000,
    });
    const dapi = createDapiApp({
      readiness: createReadiness([]),
      renderMetrics: async () => "",
      logger: createLogger({ service: "ddwf-dapi", level: "error" }),
      operator: services,
    });
    const key = await createApiKey(handle.db, { actorId: "cluster-drill", role: "operator", permissions: [...OPERATOR_PERMISSIONS] });
    const doctor = async () => {
      const response = await dapi.request("/api/v2/admin/operator/restate/doctor", {
        method: "POST",
        headers: { "content-type": "application/json", "x-api-key": key.key },
        body: "{}",
      });
      if (response.status !== 200) throw new Error(`doctor answered ${response.status}: ${await response.text()}`);
      return (await response.json()) as DoctorReadout;
    };

    const probeContract = await compiledContract("ExecutionProbe");
    const probe = await tools.deploy("ExecutionProbe", await tools.newSender());
    const client = createTransactionClient({ db: handle.db, ingressUrl: cluster.urls.ingress });

    return { cluster, identity, tools, senders, db: handle.db, client, doctor, probe, probeAbi: probeContract.abi, dataDir, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export type ClusterHarness = Awaited<ReturnType<typeof startClusterHarness>>;

export type DoctorReadout = Record<"ingress" | "admin" | "deployments" | "services" | "invocations", { status: string }> & {
  deployments: { items: { id: string; serviceUrl: string }[] };
  services: { items: { name: string; revision?: number }[] };
  nodes: {
    status: string;
    metadataMembers: string[];
    items: { url: string; nodeId: string | null; status: string; generation: number | null }[];
    error: string | null;
  };
};

export type LoadJob = { id: string; tag: number; sender: Hex; submittedAt: number; completedAt?: number; phase?: string };

export type LoadResult = {
  jobs: LoadJob[];
  faultAt: number;
  faultDoneAt: number;
  /** Longest pause between two completions (or the fault and the next completion) after the fault began. */
  longestPauseAfterFaultMs: number;
  /** Fault start → first completion of a transaction submitted after the fault began. */
  recoveryMs: number;
  /** The longest submit → terminal time of any transaction of the load (those caught by the fault). */
  slowestMs: number;
  durationMs: number;
};

/**
 * A steady load: one transaction every `intervalMs`, round-robin over the senders, each a `poke`
 * with its own tag. `before` are submitted, then `fault` runs while submissions go on, then `after`
 * more. Submissions that meet a dead node are retried with the same id (the transaction id is the
 * idempotency key). Resolves once every transaction reached a terminal phase.
 */
export async function runSteadyLoad(
  h: ClusterHarness,
  parameters: { before: number; after: number; intervalMs: number; fault: () => Promise<void>; timeoutMs?: number },
): Promise<LoadResult> {
  const jobs: LoadJob[] = [];
  let nextTag = Math.floor(Math.random() * 1e9);
  const started = Date.now();
  const submitOne = async () => {
    const sender = h.senders[jobs.length % h.senders.length]!.address;
    const job: LoadJob = { id: `tx_${crypto.randomUUID()}`, tag: nextTag++, sender, submittedAt: Date.now() };
    jobs.push(job);
    const data = encodeFunctionData({ abi: h.probeAbi, functionName: "poke", args: [BigInt(job.tag)] });
    for (let attempt = 1; ; attempt++) {
      try {
        await h.client.submitTransaction({
          transactionId: job.id,
          organizationId: "cluster-drill",
          chainId: h.tools.chain.id,
          signerAddress: sender,
          target: h.probe,
          data,
          executor: { route: "eoa" },
        });
        return;
      } catch (error) {
        if (attempt >= 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  };
  // Completions are watched from the start, so the pause after a fault is measured as it happens.
  let watching = true;
  const deadline = () => Date.now() > started + (parameters.timeoutMs ?? 180_000);
  const watcher = (async () => {
    for (;;) {
      const open = jobs.filter((job) => job.completedAt === undefined);
      if (!watching && open.length === 0) return;
      if (open.length > 0) {
        const rows = await h.db
          .select({ id: transactions.id, phase: transactions.phase })
          .from(transactions)
          .where(inArray(transactions.id, open.map((job) => job.id)));
        const now = Date.now();
        for (const row of rows) {
          if (!(TERMINAL_PHASES as readonly string[]).includes(row.phase)) continue;
          const job = open.find((candidate) => candidate.id === row.id)!;
          job.completedAt = now;
          job.phase = row.phase;
        }
      }
      if (deadline()) {
        const late = jobs.filter((job) => job.completedAt === undefined);
        throw new Error(`${late.length} transactions did not finish: ${late.map((job) => job.id).join(", ")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const pending: Promise<void>[] = [];
  const pace = async (count: number | (() => boolean)) => {
    for (let i = 0; typeof count === "number" ? i < count : !count(); i++) {
      pending.push(submitOne());
      await new Promise((resolve) => setTimeout(resolve, parameters.intervalMs));
    }
  };
  try {
    await pace(parameters.before);
  } catch (error) {
    watching = false;
    throw error;
  }
  const faultAt = Date.now();
  let faultDone = false;
  const fault = parameters.fault().finally(() => {
    faultDone = true;
  });
  await pace(() => faultDone);
  await fault;
  const faultDoneAt = Date.now();
  await pace(parameters.after);
  await Promise.all(pending);
  watching = false;
  await watcher;

  const completions = jobs.map((job) => job.completedAt!).sort((a, b) => a - b);
  let longestPause = 0;
  let previous = faultAt;
  for (const at of completions.filter((at) => at >= faultAt)) {
    longestPause = Math.max(longestPause, at - previous);
    previous = at;
  }
  const firstAfter = Math.min(...jobs.filter((job) => job.submittedAt >= faultAt).map((job) => job.completedAt!));
  return {
    jobs,
    faultAt,
    faultDoneAt,
    longestPauseAfterFaultMs: longestPause,
    recoveryMs: firstAfter - faultAt,
    slowestMs: Math.max(...jobs.map((job) => job.completedAt! - job.submittedAt)),
    durationMs: Date.now() - started,
  };
}

/**
 * Exactly once, on chain: each sender's mined nonces since `fromBlock` are one consecutive range
 * starting at its nonce before the load (no gap, no duplicate), and (for probe calls) the probe saw
 * every tag once.
 */
export async function checkExactlyOnce(
  h: ClusterHarness,
  load: Pick<LoadResult, "jobs">,
  before: { fromBlock: bigint; nonces: Map<Hex, number> },
  options?: { probeCalls?: boolean },
) {
  const problems: string[] = [];
  for (const sender of h.senders) {
    const expected = load.jobs.filter((job) => job.sender === sender.address).length;
    const start = before.nonces.get(sender.address) ?? 0;
    const mined = (await h.tools.minedTransactionsOf(sender.address, before.fromBlock + 1n)).map((tx) => tx.nonce).sort((a, b) => a - b);
    const want = Array.from({ length: expected }, (_, i) => start + i);
    if (JSON.stringify(mined) !== JSON.stringify(want)) problems.push(`${sender.address}: nonces ${mined.join(",")} instead of ${want.join(",")}`);
  }
  if (options?.probeCalls === false) return problems;
  const events = await h.tools.client.getContractEvents({ address: h.probe, abi: h.probeAbi, eventName: "Poked", fromBlock: before.fromBlock + 1n });
  const tags = events.map((event) => Number((event.args as { tag: bigint }).tag)).sort((a, b) => a - b);
  const wanted = load.jobs.map((job) => job.tag).sort((a, b) => a - b);
  if (JSON.stringify(tags) !== JSON.stringify(wanted)) problems.push(`probe tags differ: ${tags.length} seen, ${wanted.length} submitted`);
  return problems;
}

/** Chain position before a load: the head block and each sender's next nonce. */
export async function chainPosition(h: ClusterHarness) {
  const fromBlock = await h.tools.client.getBlockNumber();
  const nonces = new Map<Hex, number>();
  for (const sender of h.senders) nonces.set(sender.address, await h.tools.client.getTransactionCount({ address: sender.address }));
  return { fromBlock, nonces };
}
