/**
 * Read-only view of one workflow instance: its current state (the `state` table) and the history of
 * its invocations (`sys_invocation`, with each journal from `sys_journal`). Journal entries are shown
 * in Restate's "lite" form: entry types and names, no payloads.
 */
import { z } from "zod";
import type { RestateAdminClient } from "../../shared/restate/admin-client.ts";
import { serviceKeySchema, serviceNameSchema } from "./recover-stuck-workflow.ts";
import { isoTimestamp, parseAnswer, sqlString, sqlStringList } from "./sql.ts";

/** Journal entries answered per request, across all invocations of the key. */
export const JOURNAL_ENTRY_LIMIT = 1_000;

export const workflowInstanceParams = z.object({
  serviceName: serviceNameSchema.describe("Restate service name of the workflow"),
  serviceKey: serviceKeySchema.describe("The workflow key"),
});

const journalEntry = z.object({
  index: z.number().int(),
  entryType: z.string(),
  name: z.string().nullable(),
  appendedAt: z.string().nullable(),
  detail: z.unknown().describe("Restate's lite journal entry (no payloads)"),
});

export const workflowInstanceResponse = z.object({
  serviceName: z.string(),
  serviceKey: z.string(),
  state: z.array(z.object({ key: z.string(), value: z.unknown().describe("JSON value when the stored bytes are JSON, else the UTF-8 text") })),
  invocations: z.array(
    z.object({
      id: z.string(),
      handler: z.string(),
      status: z.string(),
      completionResult: z.string().nullable(),
      failure: z.string().nullable().describe("Terminal failure, or the last transient failure while retrying"),
      retryCount: z.number().int().nullable(),
      pinnedDeploymentId: z.string().nullable(),
      createdAt: z.string().nullable(),
      modifiedAt: z.string().nullable(),
      journal: z.array(journalEntry),
    }),
  ),
});

export type WorkflowInstance = z.infer<typeof workflowInstanceResponse>;

const stateRow = z.object({ key: z.string(), value_utf8: z.string().optional() });
const invocationRow = z.object({
  id: z.string(),
  target_handler_name: z.string(),
  status: z.string(),
  completion_result: z.string().optional(),
  completion_failure: z.string().optional(),
  last_failure: z.string().optional(),
  retry_count: z.coerce.number().int().optional(),
  pinned_deployment_id: z.string().optional(),
  created_at: z.string().optional(),
  modified_at: z.string().optional(),
});
const journalRow = z.object({
  id: z.string(),
  index: z.coerce.number().int(),
  entry_type: z.string(),
  name: z.string().optional(),
  appended_at: z.string().optional(),
  entry_lite_json: z.string().optional(),
});

export async function inspectWorkflowInstance(admin: RestateAdminClient, serviceName: string, serviceKey: string): Promise<WorkflowInstance> {
  const where = `service_name = ${sqlString(serviceName)} AND service_key = ${sqlString(serviceKey)}`;
  const [stateRows, invocationRows] = await Promise.all([
    admin.query(`SELECT key, value_utf8 FROM state WHERE ${where} ORDER BY key`),
    admin.query(
      `SELECT id, target_handler_name, status, completion_result, completion_failure, last_failure, retry_count,
              pinned_deployment_id, created_at, modified_at
       FROM sys_invocation
       WHERE target_service_name = ${sqlString(serviceName)} AND target_service_key = ${sqlString(serviceKey)}
       ORDER BY created_at`,
    ),
  ]);
  const invocations = parseAnswer(z.array(invocationRow), invocationRows, "the sys_invocation query");
  const journals = new Map<string, z.infer<typeof journalEntry>[]>();
  if (invocations.length > 0) {
    const rows = parseAnswer(
      z.array(journalRow),
      await admin.query(
        `SELECT id, index, entry_type, name, appended_at, entry_lite_json FROM sys_journal
         WHERE id IN (${sqlStringList(invocations.map((row) => row.id))})
         ORDER BY id, index
         LIMIT ${JOURNAL_ENTRY_LIMIT}`,
      ),
      "the sys_journal query",
    );
    for (const row of rows) {
      const list = journals.get(row.id) ?? [];
      list.push({
        index: row.index,
        entryType: row.entry_type,
        name: row.name ? row.name : null,
        appendedAt: isoTimestamp(row.appended_at),
        detail: parseJson(row.entry_lite_json ?? null),
      });
      journals.set(row.id, list);
    }
  }
  return {
    serviceName,
    serviceKey,
    state: parseAnswer(z.array(stateRow), stateRows, "the state query").map((row) => ({ key: row.key, value: parseJson(row.value_utf8 ?? null) })),
    invocations: invocations.map((row) => ({
      id: row.id,
      handler: row.target_handler_name,
      status: row.status,
      completionResult: row.completion_result ?? null,
      failure: row.completion_failure ?? row.last_failure ?? null,
      retryCount: row.retry_count ?? null,
      pinnedDeploymentId: row.pinned_deployment_id ?? null,
      createdAt: isoTimestamp(row.created_at),
      modifiedAt: isoTimestamp(row.modified_at),
      journal: journals.get(row.id) ?? [],
    })),
  };
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
