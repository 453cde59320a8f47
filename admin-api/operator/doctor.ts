/**
 * doctor: a read-only health readout of the Restate engine. Six probes run in parallel, each bounded
 * by its own timeout: ingress (`/restate/health`), admin (`/version`), deployments, services,
 * invocations (counts by status and the 20 most recently modified failures, `paused` and
 * `backing-off` included since they need an operator too) and nodes (doctor-nodes.ts).
 *
 * A probe that fails marks only its own component: `unreachable` when nothing answered (refused,
 * timed out), `degraded` when something answered wrongly. The readout itself fails only when the
 * admin URL's host cannot be resolved, because then no probe result would mean anything.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { z } from "zod";
import { createRestateAdminClient, RestateAdminError, type RestateAdminClient } from "../../shared/restate/admin-client.ts";
import { errorMessageOf } from "../../shared/errors.ts";
import { defaultNodeUrl } from "../../shared/config.ts";
import type { RestateEndpoints } from "../context.ts";
import { redactUrlUserInfo } from "../redact.ts";
import { doctorNodes, probeNodes } from "./doctor-nodes.ts";
import { isoTimestamp } from "./sql.ts";

export const RECENT_FAILURES_LIMIT = 20;

export const doctorRequest = z.object({}).strict().describe("An empty object: doctor takes no arguments.");

const componentStatus = z.enum(["ok", "degraded", "unreachable"]);
const latencyMs = z.number().int().nonnegative().nullable().describe("Measured round trip; null when nothing answered");
const probeError = z.string().nullable().describe("Why the probe failed; null when it succeeded");

export const doctorResponse = z.object({
  ingress: z.object({ status: componentStatus, latencyMs, error: probeError }),
  admin: z.object({ status: componentStatus, latencyMs, version: z.string().nullable(), error: probeError }),
  deployments: z.object({
    status: componentStatus,
    items: z.array(
      z.object({
        id: z.string(),
        serviceUrl: z.string().describe("The registered URI exactly as Restate stores it; pass it unchanged to cleanup"),
        createdAt: z.string().nullable().describe("ISO 8601 UTC"),
      }),
    ),
    error: probeError,
  }),
  services: z.object({
    status: componentStatus,
    items: z.array(z.object({ name: z.string(), revision: z.number().int().optional() })),
    error: probeError,
  }),
  invocations: z.object({
    status: componentStatus,
    byStatus: z.record(z.string(), z.number().int()).describe("Invocation count per sys_invocation status"),
    recentFailures: z
      .array(
        z.object({
          id: z.string(),
          serviceName: z.string(),
          serviceKey: z.string().nullable(),
          failedAt: z.string().nullable().describe("ISO 8601 UTC"),
          errorMessage: z.string().nullable(),
        }),
      )
      .max(RECENT_FAILURES_LIMIT),
    error: probeError,
  }),
  nodes: doctorNodes,
});

export type DoctorReport = z.infer<typeof doctorResponse>;
type ComponentStatus = z.infer<typeof componentStatus>;

export type RunDoctorParameters = {
  restate: RestateEndpoints;
  probeTimeoutMs: number;
};

export async function runDoctor(parameters: RunDoctorParameters): Promise<DoctorReport> {
  const { restate, probeTimeoutMs } = parameters;
  await assertHostResolves(restate.adminUrl, probeTimeoutMs);
  const admin = createRestateAdminClient({ baseUrl: restate.adminUrl, authToken: restate.authToken, timeoutMs: probeTimeoutMs });

  const nodeUrls = restate.nodeUrls ?? [defaultNodeUrl(restate.adminUrl)];
  const [ingress, version, deployments, services, invocations, nodes] = await Promise.all([
    probe(probeTimeoutMs, () => probeIngress(restate, probeTimeoutMs)),
    probe(probeTimeoutMs, async () => versionAnswer.parse(await admin.version())),
    probe(probeTimeoutMs, async () => deploymentsAnswer.parse(await admin.listDeployments())),
    probe(probeTimeoutMs, async () => servicesAnswer.parse(await admin.listServices())),
    probe(probeTimeoutMs, () => probeInvocations(admin)),
    probeNodes({ admin, nodeUrls, timeoutMs: probeTimeoutMs }),
  ]);

  const deploymentItems = (deployments.value ?? []).map((d) => ({ id: d.id, serviceUrl: d.uri, createdAt: isoTimestamp(d.created_at) }));
  const serviceItems = (services.value ?? []).map((s) => ({ name: s.name, ...(s.revision === undefined ? {} : { revision: s.revision }) }));

  return {
    ingress: { status: ingress.status, latencyMs: ingress.latencyMs, error: ingress.error },
    admin: { status: version.status, latencyMs: version.latencyMs, version: version.value?.version ?? null, error: version.error },
    deployments: emptyIsDegraded(deployments, deploymentItems, "no deployment is registered"),
    services: emptyIsDegraded(services, serviceItems, "no service is registered"),
    invocations: {
      status: invocations.status,
      byStatus: invocations.value?.byStatus ?? {},
      recentFailures: invocations.value?.recentFailures ?? [],
      error: invocations.error,
    },
    nodes,
  };
}

/** An engine with nothing registered cannot run a workflow, even though the list call succeeded. */
function emptyIsDegraded<Item>(outcome: ProbeOutcome<unknown>, items: Item[], problem: string) {
  if (outcome.status === "ok" && items.length === 0) return { status: "degraded" as const, items, error: problem };
  return { status: outcome.status, items, error: outcome.error };
}

/** Fails with RESTATE_ADMIN_UNREACHABLE when the admin URL is malformed or its host does not resolve. */
async function assertHostResolves(adminUrl: string, timeoutMs: number): Promise<void> {
  let host: string;
  try {
    host = new URL(adminUrl).hostname.replace(/^\[(.*)\]$/, "$1");
  } catch {
    throw new RestateAdminError("RESTATE_ADMIN_UNREACHABLE", `the Restate admin URL "${redactUrlUserInfo(adminUrl)}" is not a valid URL`);
  }
  if (isIP(host) !== 0) return;
  try {
    await withTimeout(lookup(host), timeoutMs);
  } catch (error) {
    const code = (error as { code?: string }).code ?? errorMessageOf(error);
    throw new RestateAdminError("RESTATE_ADMIN_UNREACHABLE", `the Restate admin host "${host}" cannot be resolved (${code})`, { cause: error });
  }
}

type ProbeOutcome<T> = { status: ComponentStatus; latencyMs: number | null; value: T | null; error: string | null };

async function probe<T>(timeoutMs: number, run: () => Promise<T>): Promise<ProbeOutcome<T>> {
  const started = performance.now();
  try {
    const value = await withTimeout(run(), timeoutMs);
    return { status: "ok", latencyMs: Math.round(performance.now() - started), value, error: null };
  } catch (error) {
    const unreachable = isTransportFailure(error);
    return {
      status: unreachable ? "unreachable" : "degraded",
      latencyMs: unreachable ? null : Math.round(performance.now() - started),
      value: null,
      error: redactUrlUserInfo(describeProbeFailure(error)),
    };
  }
}

class ProbeUnreachable extends Error {
  override name = "ProbeUnreachable";
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeUnreachable(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

class IngressAnswerError extends Error {
  override name = "IngressAnswerError";
}

async function probeIngress(restate: RestateEndpoints, timeoutMs: number): Promise<void> {
  const headers: Record<string, string> = restate.authToken ? { authorization: `Bearer ${restate.authToken}` } : {};
  let response: Response;
  try {
    response = await fetch(`${restate.ingressUrl.replace(/\/+$/, "")}/restate/health`, { headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new ProbeUnreachable(`ingress at ${restate.ingressUrl} is unreachable: ${transportReason(error)}`);
  }
  await response.body?.cancel();
  if (!response.ok) throw new IngressAnswerError(`ingress health answered ${response.status}`);
}

function isTransportFailure(error: unknown): boolean {
  if (error instanceof ProbeUnreachable) return true;
  return error instanceof RestateAdminError && error.code === "RESTATE_ADMIN_UNREACHABLE";
}

function describeProbeFailure(error: unknown): string {
  if (error instanceof z.ZodError) {
    return `unexpected answer from the admin API: ${error.issues.map((issue) => `${issue.path.join(".") || "(root)"} ${issue.message}`).join("; ")}`;
  }
  return errorMessageOf(error);
}

function transportReason(error: unknown): string {
  if (error instanceof Error && error.name === "TimeoutError") return "timed out";
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code ?? errorMessageOf(error);
}

const versionAnswer = z.object({ version: z.string() }).loose();
const deploymentsAnswer = z.array(z.object({ id: z.string(), uri: z.string(), created_at: z.string().optional() }).loose());
const servicesAnswer = z.array(z.object({ name: z.string(), revision: z.number().int().optional() }).loose());

const statusCountRow = z.object({ status: z.string(), count: z.coerce.number().int() });
const failureRow = z.object({
  id: z.string(),
  target_service_name: z.string(),
  target_service_key: z.string().optional(),
  status: z.string(),
  completion_failure: z.string().optional(),
  last_failure: z.string().optional(),
  completed_at: z.string().optional(),
  modified_at: z.string().optional(),
});

async function probeInvocations(admin: RestateAdminClient) {
  const [counts, failures] = await Promise.all([
    admin.query("SELECT status, COUNT(*) AS count FROM sys_invocation GROUP BY status"),
    admin.query(
      `SELECT id, target_service_name, target_service_key, status, completion_failure, last_failure, completed_at, modified_at
       FROM sys_invocation
       WHERE completion_result = 'failure' OR status IN ('backing-off', 'paused')
       ORDER BY modified_at DESC
       LIMIT ${RECENT_FAILURES_LIMIT}`,
    ),
  ]);
  const byStatus: Record<string, number> = {};
  for (const row of z.array(statusCountRow).parse(counts)) byStatus[row.status] = row.count;
  const recentFailures = z
    .array(failureRow)
    .parse(failures)
    .map((row) => ({
      id: row.id,
      serviceName: row.target_service_name,
      serviceKey: row.target_service_key ?? null,
      failedAt: isoTimestamp(row.completed_at ?? row.modified_at),
      errorMessage: row.completion_failure ?? row.last_failure ?? null,
    }));
  return { byStatus, recentFailures };
}
