/**
 * What an operator does to invocations through Restate's admin API, for tests: find the
 * invocations of a key, kill, cancel or purge them, and wait for their status.
 */
import { waitFor } from "../../infra/local/wait-for.ts";
import { createRestateAdminClient, type RestateAdminClient } from "../../shared/restate/admin-client.ts";
import type { TestStack } from "./stack.ts";

export type InvocationRow = {
  id: string;
  target_handler_name: string;
  status: string;
  completion_result?: string;
  completion_failure?: string;
};

export function createInvocationTools(stack: TestStack) {
  const admin: RestateAdminClient = createRestateAdminClient({ baseUrl: stack.restateAdminUrl });
  const quote = (value: string) => `'${value.replaceAll("'", "''")}'`;

  const invocationsOf = (service: string, key: string, handler?: string) =>
    admin.query<InvocationRow>(
      `SELECT id, target_handler_name, status, completion_result, completion_failure FROM sys_invocation
       WHERE target_service_name = ${quote(service)} AND target_service_key = ${quote(key)}
       ${handler ? `AND target_handler_name = ${quote(handler)}` : ""} ORDER BY created_at`,
    );

  /** The unfinished `run` invocation of a workflow key (waits until it exists). */
  const activeRun = (service: string, key: string) =>
    waitFor(`an active run of ${service}/${key}`, async () => (await invocationsOf(service, key, "run")).find((row) => row.status !== "completed"));

  const waitFinished = (service: string, key: string, id: string) =>
    waitFor(`invocation ${id} to finish`, async () => (await invocationsOf(service, key)).find((row) => row.id === id && row.status === "completed"));

  return {
    admin,
    invocationsOf,
    activeRun,
    /** Waits until the invocation with this id has finished (a one-way send's call ran to its end). */
    finished: (id: string) =>
      waitFor(`invocation ${id} to finish`, async () =>
        (await admin.query<InvocationRow>(`SELECT id, target_handler_name, status, completion_result, completion_failure FROM sys_invocation WHERE id = ${quote(id)}`)).find(
          (row) => row.status === "completed",
        ),
      ),
    /** Kills the workflow's active run (no code of it runs any more) and waits until it is finished. */
    killRun: async (service: string, key: string) => {
      const run = await activeRun(service, key);
      await admin.killInvocation(run.id);
      return waitFinished(service, key, run.id);
    },
    /** Cancels the workflow's active run through the admin API (its code sees a CancelledError). */
    cancelRun: async (service: string, key: string) => {
      const run = await activeRun(service, key);
      await admin.cancelInvocation(run.id);
      return run;
    },
    /**
     * Purges every invocation of a key once its `run` has finished (a status shows `completed` a
     * moment before the run ends), as retention ending would.
     */
    purgeFinished: async (service: string, key: string) => {
      await waitFor(`the runs of ${service}/${key} to finish`, async () =>
        (await invocationsOf(service, key, "run")).every((row) => row.status === "completed") ? true : undefined,
      );
      for (const row of await invocationsOf(service, key)) {
        if (row.status === "completed") await admin.purgeInvocation(row.id);
      }
    },
    /** Kills the unfinished invocations of a virtual object key (e.g. a processor call in flight). */
    killActive: async (service: string, key: string) => {
      const active = (await invocationsOf(service, key)).filter((row) => row.status !== "completed");
      for (const row of active) await admin.killInvocation(row.id).catch(() => undefined);
      return active;
    },
  };
}

export type InvocationTools = ReturnType<typeof createInvocationTools>;
