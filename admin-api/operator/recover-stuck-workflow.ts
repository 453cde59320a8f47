/**
 * recover-stuck-workflow: makes one workflow key safe to submit again.
 *
 * 1. Query every invocation of (serviceName, serviceKey) in `sys_invocation`.
 * 2. Refuse (RESTATE_WORKFLOW_RETRY_BLOCKED, 409) when any is still active — every status but
 *    completed, killed and cancelled, so statuses added by a later Restate count as active — or
 *    when the workflow's `run` already completed successfully. Nothing is changed then.
 * 3. Refuse (RESTATE_WORKFLOW_TIMERS_PENDING, 409 with Retry-After) while a finished `run` of the
 *    key has a sleep that has not come due (shared/restate/pending-timers.ts): Restate keeps that
 *    timer through kill and purge and would deliver it into the next run, which has the same
 *    invocation id. Nothing is changed then, so the journal that shows the sleep is kept for the
 *    next attempt.
 * 4. For each terminal-failed invocation: kill (409 means it already finished, which is the case
 *    we expect), then purge. Purging a workflow's `run` also drops its state and durable promises.
 * 5. Replace the key's state with `{}`, so nothing left behind leaks into the next run.
 *
 * Transport failures surface as RESTATE_ADMIN_UNREACHABLE; any other failed query or purge is a
 * 502 with reason `query-failed` or `purge-failed`.
 */
import { z } from "zod";
import { RestateAdminError, type RestateAdminClient } from "../../shared/restate/admin-client.ts";
import { errorMessageOf } from "../../shared/errors.ts";
import type { Logger } from "../../shared/logger.ts";
import { parseServerTimestamp, readFinishedRunJournals, timerVerdict } from "../../shared/restate/pending-timers.ts";
import { DapiError } from "../errors.ts";
import { sqlString } from "./sql.ts";

export const WORKFLOW_IDENTIFIER = /^[a-zA-Z0-9_-]+$/;
/** Longest service name and key accepted; longer ones are refused before Restate is asked. */
export const MAX_SERVICE_NAME_LENGTH = 255;
export const MAX_SERVICE_KEY_LENGTH = 1_024;
const identifier = (max: number) =>
  z.string().max(max, `must be at most ${max} characters`).regex(WORKFLOW_IDENTIFIER, "must match ^[a-zA-Z0-9_-]+$ (letters, digits, _ and -)");
export const serviceNameSchema = identifier(MAX_SERVICE_NAME_LENGTH);
export const serviceKeySchema = identifier(MAX_SERVICE_KEY_LENGTH);

export const recoverStuckWorkflowRequest = z
  .object({
    serviceName: serviceNameSchema.describe("Restate service name of the workflow, e.g. EngineCanary"),
    serviceKey: serviceKeySchema.describe("The workflow key (workflow id) to recover"),
  })
  .strict();

export const acknowledgedResponse = z.object({ acknowledged: z.literal(true) });

export const RETRY_BLOCKED_REASONS = ["active-invocation", "already-succeeded", "purge-failed", "query-failed"] as const;
export type RetryBlockedReason = (typeof RETRY_BLOCKED_REASONS)[number];

export const retryBlockedData = z.object({ reason: z.enum(RETRY_BLOCKED_REASONS), invocationIds: z.array(z.string()) });

/** Statuses after which an invocation will not run again; everything else is active. */
const FINISHED_STATUSES = new Set(["completed", "killed", "cancelled"]);
/** The handler whose success means the workflow itself succeeded. */
const WORKFLOW_HANDLER = "run";

const invocationRow = z.object({
  id: z.string().min(1),
  target_handler_name: z.string(),
  status: z.string(),
  completion_result: z.string().optional(),
  modified_at: z.string().optional(),
});
type InvocationRow = z.infer<typeof invocationRow>;

export type RecoverStuckWorkflowParameters = {
  admin: RestateAdminClient;
  serviceName: string;
  serviceKey: string;
  logger: Logger;
  /**
   * Refuse with RESTATE_WORKFLOW_NOT_FOUND when the key has no invocation at all (the route: the
   * operator probably mistyped it). Dead-letter replay allows it: a key whose invocations were
   * purged is free to run again.
   */
  requireInvocations?: boolean;
};

export type RecoverStuckWorkflowReturnType = { purgedInvocationIds: string[] };
/**
 * RESTATE_WORKFLOW_RETRY_BLOCKED, RESTATE_WORKFLOW_TIMERS_PENDING or RESTATE_WORKFLOW_NOT_FOUND
 * (DapiError), or a RestateAdminError (unreachable, or clearing the state failed).
 */
export type RecoverStuckWorkflowErrorType = DapiError | RestateAdminError;

export async function recoverStuckWorkflow(parameters: RecoverStuckWorkflowParameters): Promise<RecoverStuckWorkflowReturnType> {
  const { admin, serviceName, serviceKey, logger } = parameters;
  const target = `${serviceName}/${serviceKey}`;

  const invocations = await queryInvocations(admin, serviceName, serviceKey);
  if (invocations.length === 0 && parameters.requireInvocations) {
    throw new DapiError(
      "RESTATE_WORKFLOW_NOT_FOUND",
      `${target} has no invocation at all; nothing was changed (check the service name and the key against doctor's recentFailures)`,
      { data: { serviceName, serviceKey } },
    );
  }
  const active = invocations.filter((row) => !FINISHED_STATUSES.has(row.status));
  if (active.length > 0) {
    throw blocked(
      "active-invocation",
      active.map((row) => row.id),
      `${target} has ${active.length} unfinished invocation(s) (${[...new Set(active.map((row) => row.status))].join(", ")}); recovery would race them`,
    );
  }
  const succeeded = invocations.filter((row) => row.target_handler_name === WORKFLOW_HANDLER && row.completion_result === "success");
  if (succeeded.length > 0) {
    throw blocked("already-succeeded", succeeded.map((row) => row.id), `${target} already completed successfully; there is nothing to retry`);
  }

  const failed = invocations.filter((row) => row.completion_result === "failure");
  await refuseWhileTimersPending(admin, target, failed.filter((row) => row.target_handler_name === WORKFLOW_HANDLER));
  for (const invocation of failed) await killThenPurge(admin, invocation.id, target);
  await admin.setState(serviceName, { objectKey: serviceKey, newState: {} });

  logger.info("workflow key recovered", { serviceName, serviceKey, purgedInvocationIds: failed.map((row) => row.id) });
  return { purgedInvocationIds: failed.map((row) => row.id) };
}

/**
 * Only a workflow's `run` has the same invocation id on every run of its key; the timers of its
 * other handlers (shared handlers, random ids) can never reach a later run.
 */
async function refuseWhileTimersPending(admin: RestateAdminClient, target: string, runs: InvocationRow[]): Promise<void> {
  if (runs.length === 0) return;
  let read: Awaited<ReturnType<typeof readFinishedRunJournals>>;
  try {
    read = await readFinishedRunJournals(
      admin,
      // A finished row always has modified_at; without one, count the run as finished now.
      runs.map((row) => ({ invocationId: row.id, finishedAt: row.modified_at ? parseServerTimestamp(row.modified_at) : Date.now() })),
    );
  } catch (error) {
    if (isTransportFailure(error)) throw error;
    throw blocked("query-failed", runs.map((row) => row.id), `could not read the journals of ${target}: ${describe(error)}`);
  }
  const verdict = timerVerdict(read.runs, read.now);
  if (verdict.kind === "quiet") return;
  const retryAt = new Date(verdict.until).toISOString();
  throw new DapiError(
    "RESTATE_WORKFLOW_TIMERS_PENDING",
    `${target}: a finished run still has a sleep that has not come due; Restate would deliver its timer into the next run (same invocation id). Nothing was changed; ask again after ${retryAt}`,
    { data: { invocationIds: verdict.invocationIds, retryAt, retryAfterSeconds: verdict.retryAfterSeconds }, retryAfterSeconds: verdict.retryAfterSeconds },
  );
}

async function queryInvocations(admin: RestateAdminClient, serviceName: string, serviceKey: string): Promise<InvocationRow[]> {
  try {
    const rows = await admin.query(
      `SELECT id, target_handler_name, status, completion_result, modified_at FROM sys_invocation
       WHERE target_service_name = ${sqlString(serviceName)} AND target_service_key = ${sqlString(serviceKey)}`,
    );
    return z.array(invocationRow).parse(rows);
  } catch (error) {
    if (isTransportFailure(error)) throw error;
    throw blocked("query-failed", [], `could not query the invocations of ${serviceName}/${serviceKey}: ${describe(error)}`);
  }
}

async function killThenPurge(admin: RestateAdminClient, id: string, target: string): Promise<void> {
  try {
    await admin.killInvocation(id);
  } catch (error) {
    // 409: already finished (the expected case for a terminal failure); 404: already gone.
    if (isTransportFailure(error)) throw error;
    if (!hasStatus(error, 409, 404)) throw blocked("purge-failed", [id], `could not kill ${id} of ${target} before purging it: ${describe(error)}`);
  }
  try {
    await admin.purgeInvocation(id);
  } catch (error) {
    if (isTransportFailure(error)) throw error;
    // 404: purged meanwhile (by a concurrent recovery or retention), which is the state we want.
    if (!hasStatus(error, 404)) throw blocked("purge-failed", [id], `could not purge ${id} of ${target}: ${describe(error)}`);
  }
}

function blocked(reason: RetryBlockedReason, invocationIds: string[], message: string): DapiError {
  const refusal = reason === "active-invocation" || reason === "already-succeeded";
  return new DapiError("RESTATE_WORKFLOW_RETRY_BLOCKED", `workflow retry blocked (${reason}): ${message}`, {
    status: refusal ? 409 : 502,
    data: { reason, invocationIds },
  });
}

export function isTransportFailure(error: unknown): boolean {
  return error instanceof RestateAdminError && error.code === "RESTATE_ADMIN_UNREACHABLE";
}

function hasStatus(error: unknown, ...statuses: number[]): boolean {
  return error instanceof RestateAdminError && error.status !== undefined && statuses.includes(error.status);
}

function describe(error: unknown): string {
  if (error instanceof z.ZodError) return `unexpected rows (${error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")})`;
  return errorMessageOf(error);
}
