/**
 * The one configuration schema of ddwf. Every process (`services/main.ts`, `admin-api/main.ts`,
 * `infra/local/start.ts`) calls `loadConfig(process.env)` once at start and passes the result down.
 * Nothing here reads the environment at import time.
 */
import { z } from "zod";
import { DEFAULT_WEBHOOK_RETRY_SCHEDULE, parseRetrySchedule } from "./webhooks/retry-schedule.ts";
import { parseSecretKeyRing } from "./webhooks/secret-box.ts";
import { IDENTITY_KEY_PATTERN } from "./restate/request-identity.ts";
import { parseSignOnlyPolicies } from "./signers/sign-only-policy.ts";

const port = z.coerce
  .number({ error: "must be a port number" })
  .int("must be a whole number")
  .min(0, "must be between 0 and 65535")
  .max(65535, "must be between 0 and 65535");

const httpUrl = z
  .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
  .transform((value) => value.replace(/\/+$/, ""));

const flag = z
  .enum(["true", "false", "1", "0", "yes", "no"], { error: "must be true or false" })
  .transform((value) => value === "true" || value === "1" || value === "yes");

/** A string turned into a value by `parse`; what `parse` throws becomes the variable's problem. */
const parsedBy = <T>(parse: (value: string) => T) =>
  z.string().transform((value, context) => {
    try {
      return parse(value);
    } catch (error) {
      context.addIssue({ code: "custom", message: error instanceof Error ? error.message : String(error) });
      return z.NEVER;
    }
  });

const positiveInt = z.coerce.number({ error: "must be a number" }).int("must be a whole number").positive("must be positive");

/**
 * Each key is the environment variable's name. The README's configuration table is checked
 * against this object by a test, so a variable added here without documentation fails CI.
 */
export const configSchema = z.object({
  /** Log threshold for the JSON logs of every process. */
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** Restate ingress, where workflows are invoked. */
  RESTATE_INGRESS_URL: httpUrl.default("http://127.0.0.1:8080"),
  /** Restate admin API (registration, introspection, operator actions). */
  RESTATE_ADMIN_URL: httpUrl.optional(),
  /**
   * Node URLs (the node-to-node port, 5122 by default) of every Restate node, comma-separated; the
   * doctor reads each node's own /health there. Unset: the admin URL's host on port 5122.
   */
  RESTATE_NODE_URLS: z
    .string()
    .transform((value) => value.split(",").map((url) => url.trim()).filter((url) => url.length > 0))
    .pipe(z.array(httpUrl).min(1, "must name at least one node URL"))
    .optional(),
  /** Bearer token for the admin API and ingress when Restate sits behind authentication. */
  RESTATE_AUTH_TOKEN: z.string().min(1, "must not be empty").optional(),
  /**
   * Public keys (`publickeyv1_…`, comma-separated) of the Restate servers allowed to call the worker:
   * when set, the endpoint refuses every request not signed by one of them (request identity).
   */
  RESTATE_IDENTITY_KEYS: z
    .string()
    .transform((value) => value.split(",").map((key) => key.trim()).filter((key) => key.length > 0))
    .pipe(z.array(z.string().regex(IDENTITY_KEY_PATTERN, "each key must look like publickeyv1_<base58>")))
    .default([]),
  /** Port the worker's Restate endpoint listens on. */
  WORKER_PORT: port.default(9080),
  /** Worker processes `npm run cluster` starts behind its balancer (each on its own ports). */
  WORKER_REPLICAS: positiveInt.max(8, "must be at most 8").default(2),
  /** Interface the worker endpoint binds to. */
  WORKER_HOST: z.string().min(1).default("127.0.0.1"),
  /** URL Restate uses to reach the worker endpoint; defaults to http://WORKER_HOST:WORKER_PORT. */
  WORKER_ADVERTISED_URL: httpUrl.optional(),
  /** Register the worker endpoint with the Restate admin API on start. */
  WORKER_AUTO_REGISTER: flag.default(true),
  /** How long registration keeps retrying while the admin API does not answer. */
  WORKER_REGISTRATION_TIMEOUT_MS: positiveInt.default(60_000),
  /** Port of the worker's ops server: /health/live, /health/ready, /metrics. */
  OPS_PORT: port.default(9464),
  /** Port of the operator API (DAPI); its health and metrics are served on the same port. */
  DAPI_PORT: port.default(3000),
  /** Interface the DAPI and the ops server bind to. */
  HTTP_HOST: z.string().min(1).default("127.0.0.1"),
  /** Upper bound of each probe the DAPI's doctor route runs (ingress, admin, deployments, ...). */
  DOCTOR_PROBE_TIMEOUT_MS: positiveInt.max(60_000, "must be at most 60000").default(3_000),
  /** Upper bound of each Restate admin API call the DAPI's operator routes make; past it they answer RESTATE_ADMIN_UNREACHABLE. */
  DAPI_RESTATE_TIMEOUT_MS: positiveInt.max(120_000, "must be at most 120000").default(5_000),
  /** `host:port` targets force-redeploy may register although they are Restate's own ports or link-local/metadata addresses. */
  DAPI_REDEPLOY_ALLOW: z
    .string()
    .transform((value) => value.split(",").map((entry) => entry.trim().toLowerCase()).filter((entry) => entry.length > 0))
    .pipe(z.array(z.string().regex(/^[^\s:/]+:\d{1,5}$|^\[[0-9a-f:.]+\]:\d{1,5}$/, "each entry must be host:port")))
    .default([]),
  /** First operator API key, stored hashed at DAPI start (created when missing). */
  DAPI_BOOTSTRAP_API_KEY: z.string().min(24, "must be at least 24 characters").optional(),
  /** EVM JSON-RPC endpoint. */
  CHAIN_RPC_URL: httpUrl.optional(),
  /** Chain id expected at CHAIN_RPC_URL. */
  CHAIN_ID: positiveInt.default(31337),
  /** PostgreSQL connection string; when unset an embedded PGlite database is used. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// or postgresql:// URL")
    .optional(),
  /** Data folder of the embedded PGlite database, or `memory://` for a throw-away one. */
  PGLITE_DATA_DIR: z.string().min(1).default(".data/pglite"),
  /** Largest number of pooled connections each process opens to PostgreSQL. */
  DATABASE_POOL_SIZE: positiveInt.max(100, "must be at most 100").default(10),
  /** Folder for local state of `npm start` (Restate data, PGlite, anvil state). */
  DATA_DIR: z.string().min(1).default(".data"),
  /**
   * Comma-separated private keys of the direct EOA route (development and anvil only; production
   * keys belong to a custody or signing route). Never logged, never journaled.
   */
  SIGNER_DEV_KEYS: z
    .string()
    .transform((value) => value.split(",").map((key) => key.trim()).filter((key) => key.length > 0))
    .pipe(z.array(z.string().regex(/^0x[0-9a-fA-F]{64}$/, "each key must be 0x followed by 64 hex digits")))
    .default([]),
  /** Blocks on top of the receipt's block before a transaction counts as confirmed (1 = mined). */
  TX_CONFIRMATIONS: positiveInt.max(64, "must be at most 64").default(1),
  /** Fallback pause between receipt checks of one transaction, when the chain monitor does not wake it first. */
  TX_RECEIPT_POLL_INTERVAL_MS: positiveInt.default(5_000),
  /** How often the per-chain monitor reads the head block while transactions wait for blocks. */
  CHAIN_MONITOR_POLL_MS: positiveInt.default(500),
  /** A broadcast transaction not mined after this long is replaced with higher fees. */
  TX_STUCK_AFTER_MS: positiveInt.default(45_000),
  /** Fee increase of a replacement, in percent of the previous fees (nodes require at least 10 to 12.5). */
  TX_FEE_BUMP_PERCENT: z.coerce.number({ error: "must be a number" }).min(10, "must be at least 10").max(500).default(12.5),
  /** Highest maxFeePerGas ddwf will sign, in gwei; at this cap a stuck transaction is blocked, not bumped. */
  TX_MAX_FEE_PER_GAS_GWEI: z.coerce.number({ error: "must be a number" }).positive("must be positive").default(500),
  /** How long RPC failures are retried before broadcast; after that the transaction is dead-lettered. */
  TX_PREBROADCAST_RETRY_BUDGET_MS: positiveInt.default(300_000),
  /**
   * How long Restate keeps a finished transaction run (its status and output) before it may be
   * submitted again; later status reads and runs of the key use the database record. Milliseconds.
   */
  TX_WORKFLOW_RETENTION_MS: positiveInt.min(60_000, "must be at least 60000 (one minute)").default(7 * 86_400_000),
  /** Hex bytes appended to the calldata of every contract call (attribution), e.g. 0xdd01. */
  TX_ATTRIBUTION_SUFFIX: z.string().regex(/^0x([0-9a-fA-F]{2})*$/, "must be 0x followed by an even number of hex digits").default("0x"),
  /** Pauses between webhook attempts (durations such as 5s, 5m, 2h); when spent, the delivery is dead-lettered. */
  WEBHOOK_RETRY_SCHEDULE: z.string().default(DEFAULT_WEBHOOK_RETRY_SCHEDULE).pipe(parsedBy(parseRetrySchedule)),
  /** Upper bound of a receiver's `Retry-After`: a longer one is waited for this long, then tried again. */
  WEBHOOK_RETRY_AFTER_MAX_MS: positiveInt.default(3_600_000),
  /** How long one webhook attempt may take before it counts as failed. */
  WEBHOOK_TIMEOUT_MS: positiveInt.max(120_000, "must be at most 120000").default(10_000),
  /**
   * Key ring that encrypts webhook signing secrets at rest (AES-256-GCM): `id:base64key,...`, 32-byte
   * keys, the first one seals, all open. Needed by the DAPI's webhook routes and by the worker.
   */
  WEBHOOK_SECRET_KEYS: parsedBy(parseSecretKeyRing).optional(),
  /** Development only: let webhook URLs use http and reach loopback, private and link-local addresses. */
  WEBHOOK_ALLOW_INSECURE_URLS: flag.default(false),
  /** An invocation unfinished for longer than this (and not modified for STALL_NO_MUTATION_THRESHOLD_MS) counts as stalled. */
  STALL_PENDING_THRESHOLD_MS: positiveInt.default(600_000),
  /** How long a stalled invocation has gone without any progress in its journal. */
  STALL_NO_MUTATION_THRESHOLD_MS: positiveInt.default(300_000),
  /** Pause between reconciliation rounds of a chain; 0 turns reconciliation off. */
  RECONCILE_INTERVAL_MS: z.coerce.number({ error: "must be a number" }).int("must be a whole number").min(0, "must be 0 or more").default(60_000),
  /** A record in a non-terminal phase unchanged for this long is checked against its workflow. */
  RECONCILE_STALE_AFTER_MS: positiveInt.default(300_000),
  /** Records (and senders) one reconciliation round looks at; a cursor carries the rest to the next rounds. */
  RECONCILE_BATCH_SIZE: positiveInt.max(10_000, "must be at most 10000").default(200),
  /** How many blocks back completed transactions are re-checked for a reorg that took their block away. */
  RECONCILE_REORG_DEPTH: positiveInt.max(10_000, "must be at most 10000").default(64),
  /** Currency pairs whose rates are refreshed, e.g. `EUR/USD,GBP/USD`; one scheduler per pair. */
  EXCHANGE_RATE_PAIRS: z
    .string()
    .transform((value) => value.split(",").map((pair) => pair.trim()).filter((pair) => pair.length > 0))
    .pipe(z.array(z.string().regex(/^[A-Z]{3,5}[/-][A-Z]{3,5}$/, "each pair must look like EUR/USD")).transform((pairs) => [...new Set(pairs.map((pair) => pair.replace("/", "-")))]))
    .default([]),
  /** Feed answering JSON {"rate": "1.0842", "timestamp": ISO-8601}; {base}, {quote} and {pair} are filled in. */
  EXCHANGE_RATE_FEED_URL: z
    .string()
    .regex(/^https?:\/\/\S+$/, "must be an http(s) URL")
    .refine((value) => /\{(base|quote|pair)\}/.test(value), "must contain {base} and {quote}, or {pair}")
    .optional(),
  /** Pause between two refreshes of one pair. */
  EXCHANGE_RATE_REFRESH_MS: positiveInt.default(60_000),
  /** A feed rate older than this is refused, not stored. */
  EXCHANGE_RATE_MAX_AGE_MS: positiveInt.default(300_000),
  /** Indexer status URL answering JSON {"blockNumber": n}; unset means the chain head is the indexer. */
  INDEXER_STATUS_URL: httpUrl.optional(),
  /**
   * API key of the Fireblocks API user the custody route acts as. Set (with
   * FIREBLOCKS_SECRET_KEY_PATH) to turn the custody route on; unset, custody selections are refused.
   */
  FIREBLOCKS_API_KEY: z.string().min(1).max(200).optional(),
  /** File holding that API user's RSA private key (PEM); read once at start, never logged or journaled. */
  FIREBLOCKS_SECRET_KEY_PATH: z.string().min(1).optional(),
  /** Base URL of the Fireblocks API, `/v1` included (the sandbox, an EU workspace, or a local test server). */
  FIREBLOCKS_BASE_PATH: httpUrl.default("https://api.fireblocks.io/v1"),
  /** The provider's id of CHAIN_ID's base asset (ETH, ETH_TEST5, MATIC_POLYGON, …): what contract calls are sent as. */
  FIREBLOCKS_ASSET_ID: z.string().regex(/^[A-Za-z0-9_]{1,64}$/, "must be a Fireblocks asset id such as ETH or ETH_TEST5").default("ETH"),
  /** First pause between two looks at a custody provider's transaction; it grows while nothing changes. */
  CUSTODY_POLL_INTERVAL_MS: positiveInt.default(5_000),
  /** Longest pause between two looks at a custody provider's transaction (also while the provider is down). */
  CUSTODY_POLL_MAX_INTERVAL_MS: positiveInt.default(60_000),
  /** The PKCS#11 module of the sign-only route's HSM; unset: Debian's SoftHSM2 module (/usr/lib/softhsm/libsofthsm2.so) when it is installed. */
  HSM_MODULE_PATH: z.string().min(1).optional(),
  /** Label of the HSM token holding the sign-only keys. Set (with HSM_PIN) to turn the sign-only route on. */
  HSM_TOKEN_LABEL: z.string().min(1).max(32, "must be at most 32 characters (a PKCS#11 token label)").optional(),
  /** User PIN of that token; never logged or journaled. */
  HSM_PIN: z.string().min(4, "must be at least 4 characters").max(255).optional(),
  /**
   * Approval policy per sign-only signer, JSON keyed by signer address:
   * {"0x…": {"approvers": ["0x…", …], "threshold": 2, "expiresAfterSeconds": 3600}}. A signer without one is refused.
   */
  SIGN_ONLY_POLICIES: parsedBy(parseSignOnlyPolicies).optional(),
  /**
   * JSON-RPC URL of an ERC-4337 bundler for CHAIN_ID (alto, or one with the same methods) that
   * accepts EntryPoint v0.7 operations. Set to turn the smart-wallet route on; unset, it is refused.
   */
  BUNDLER_URL: httpUrl.optional(),
  /** Longest pause between two submissions while the bundler's queue for a smart account is full (BLOCKED_BY_QUEUE). */
  SMART_WALLET_BLOCKED_RETRY_MAX_MS: positiveInt.default(10_000),
});

export type ConfigInput = z.input<typeof configSchema>;
type ParsedConfig = z.output<typeof configSchema>;

/** The configuration after defaults are applied; URLs that have defaults are always present. */
export type Config = Omit<ParsedConfig, "RESTATE_ADMIN_URL" | "RESTATE_NODE_URLS" | "CHAIN_RPC_URL" | "WORKER_ADVERTISED_URL"> & {
  RESTATE_ADMIN_URL: string;
  RESTATE_NODE_URLS: string[];
  CHAIN_RPC_URL: string;
  WORKER_ADVERTISED_URL: string;
  /** Which URLs were given explicitly; `npm start` skips starting what is configured. */
  explicit: { restateAdmin: boolean; chainRpc: boolean; database: boolean };
};

export const configVariables = Object.keys(configSchema.shape) as (keyof ParsedConfig)[];

export const DEFAULT_RESTATE_ADMIN_URL = "http://127.0.0.1:9070";
export const DEFAULT_CHAIN_RPC_URL = "http://127.0.0.1:8545";

/** Restate's default node port on the admin API's host: where a single node's /health answers. */
export const RESTATE_DEFAULT_NODE_PORT = 5122;

export function defaultNodeUrl(adminUrl: string): string {
  const url = new URL(adminUrl);
  return `${url.protocol}//${url.hostname}:${RESTATE_DEFAULT_NODE_PORT}`;
}

export class ConfigError extends Error {
  readonly code = "CONFIG_INVALID";
  readonly problems: { variable: string; problem: string }[];
  constructor(problems: { variable: string; problem: string }[]) {
    super(
      `Invalid configuration:\n${problems.map((p) => `  - ${p.variable}: ${p.problem}`).join("\n")}`,
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/**
 * Parses the environment once. Empty strings count as unset, so `FOO=` in a compose file does not
 * override a default. Throws `ConfigError` naming every bad variable at once.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const relevant: Record<string, string> = {};
  for (const name of configVariables) {
    const value = env[name];
    if (value !== undefined && value.trim() !== "") relevant[name] = value.trim();
  }
  const result = configSchema.safeParse(relevant);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const variable = String(issue.path[0] ?? "(environment)");
      const given = relevant[variable];
      const shown = given === undefined ? "" : ` (got ${JSON.stringify(redactValue(variable, given))})`;
      return { variable, problem: `${issue.message}${shown}` };
    });
    throw new ConfigError(problems);
  }
  const parsed = result.data;
  const pairProblems = [
    ...(parsed.FIREBLOCKS_API_KEY && !parsed.FIREBLOCKS_SECRET_KEY_PATH ? [{ variable: "FIREBLOCKS_SECRET_KEY_PATH", problem: "must be set when FIREBLOCKS_API_KEY is" }] : []),
    ...(!parsed.FIREBLOCKS_API_KEY && parsed.FIREBLOCKS_SECRET_KEY_PATH ? [{ variable: "FIREBLOCKS_API_KEY", problem: "must be set when FIREBLOCKS_SECRET_KEY_PATH is" }] : []),
    ...(parsed.HSM_TOKEN_LABEL && !parsed.HSM_PIN ? [{ variable: "HSM_PIN", problem: "must be set when HSM_TOKEN_LABEL is" }] : []),
    ...(!parsed.HSM_TOKEN_LABEL && parsed.HSM_PIN ? [{ variable: "HSM_TOKEN_LABEL", problem: "must be set when HSM_PIN is" }] : []),
    ...(parsed.SIGN_ONLY_POLICIES && !parsed.HSM_TOKEN_LABEL ? [{ variable: "SIGN_ONLY_POLICIES", problem: "needs HSM_TOKEN_LABEL and HSM_PIN (the token holding the signers' keys)" }] : []),
    ...(parsed.CUSTODY_POLL_MAX_INTERVAL_MS < parsed.CUSTODY_POLL_INTERVAL_MS
      ? [{ variable: "CUSTODY_POLL_MAX_INTERVAL_MS", problem: `must be at least CUSTODY_POLL_INTERVAL_MS (${parsed.CUSTODY_POLL_INTERVAL_MS})` }]
      : []),
  ];
  if (pairProblems.length > 0) throw new ConfigError(pairProblems);
  return {
    ...parsed,
    RESTATE_ADMIN_URL: parsed.RESTATE_ADMIN_URL ?? DEFAULT_RESTATE_ADMIN_URL,
    RESTATE_NODE_URLS: parsed.RESTATE_NODE_URLS ?? [defaultNodeUrl(parsed.RESTATE_ADMIN_URL ?? DEFAULT_RESTATE_ADMIN_URL)],
    CHAIN_RPC_URL: parsed.CHAIN_RPC_URL ?? DEFAULT_CHAIN_RPC_URL,
    WORKER_ADVERTISED_URL:
      parsed.WORKER_ADVERTISED_URL ?? `http://${parsed.WORKER_HOST}:${parsed.WORKER_PORT}`,
    explicit: {
      restateAdmin: parsed.RESTATE_ADMIN_URL !== undefined,
      chainRpc: parsed.CHAIN_RPC_URL !== undefined,
      database: parsed.DATABASE_URL !== undefined,
    },
  };
}

/** Secrets never appear in error messages, not even when they are the bad value. */
function redactValue(variable: string, value: string): string {
  if (/KEY|TOKEN|SECRET|PASSWORD|PIN/.test(variable)) return "<redacted>";
  if (variable === "DATABASE_URL") return value.replace(/\/\/[^@/]*@/, "//REDACTED@");
  return value;
}
