/**
 * cleanup-stale-deployments: keeps the deployment registered at `serviceUrl` and deletes the others.
 *
 * Restate has no drain operation; a deployment is drained when no service's latest revision lives
 * on it and no unfinished invocation is pinned to it (`sys_invocation.pinned_deployment_id`).
 * - A deployment holding a service's latest revision is never deleted: Restate would remove that
 *   service instead of falling back to an older revision. Force-redeploy the kept URL first.
 * - `forceDrain: false` leaves a deployment with pinned unfinished invocations in place.
 * - `forceDrain: true` deletes it anyway; its invocations then fail and pause until resumed on the
 *   latest deployment.
 * Decisions and per-deployment failures are logged; the answer stays `{ acknowledged: true }`.
 */
import { z } from "zod";
import { RestateAdminError, sameDeploymentUri, type DeploymentSummary, type RestateAdminClient } from "../../shared/restate/admin-client.ts";
import { errorMessageOf } from "../../shared/errors.ts";
import type { Logger } from "../../shared/logger.ts";
import { DapiError } from "../errors.ts";
import { redactUrlUserInfo } from "../redact.ts";
import { serviceUrl } from "./force-redeploy.ts";
import { parseAnswer, sqlString } from "./sql.ts";

export const cleanupStaleDeploymentsRequest = z
  .object({
    serviceUrl: serviceUrl.describe("Registered URI of the deployment to keep, as doctor lists it in deployments.items[].serviceUrl"),
    forceDrain: z.boolean().default(false).describe("Delete stale deployments even while invocations are still pinned to them"),
  })
  .strict();

/** What happened to one stale deployment; logged, not answered. */
export type StaleDeploymentOutcome =
  | { id: string; uri: string; outcome: "deleted"; pinnedInvocations: number }
  | { id: string; uri: string; outcome: "kept"; reason: string }
  | { id: string; uri: string; outcome: "failed"; error: string };

export type CleanupStaleDeploymentsParameters = {
  admin: RestateAdminClient;
  serviceUrl: string;
  forceDrain: boolean;
  logger: Logger;
};

/** RESTATE_DEPLOYMENT_NOT_FOUND (DapiError) or RESTATE_ADMIN_UNREACHABLE when the deployments cannot be listed. */
export type CleanupStaleDeploymentsErrorType = DapiError | RestateAdminError;

const DEPLOYMENT_ID = /^dp_[A-Za-z0-9]+$/;
const pinnedRow = z.object({ id: z.string() });

export async function cleanupStaleDeployments(parameters: CleanupStaleDeploymentsParameters): Promise<StaleDeploymentOutcome[]> {
  const { admin, forceDrain, logger } = parameters;
  let deployments: DeploymentSummary[];
  try {
    deployments = await admin.listDeployments();
  } catch (error) {
    if (error instanceof RestateAdminError && error.code === "RESTATE_ADMIN_UNREACHABLE") throw error;
    throw new RestateAdminError("RESTATE_ADMIN_UNREACHABLE", `could not list deployments: ${errorMessageOf(error)}`, { cause: error });
  }
  const keep = deployments.find((deployment) => sameDeploymentUri(deployment.uri, parameters.serviceUrl));
  if (!keep) {
    throw new DapiError("RESTATE_DEPLOYMENT_NOT_FOUND", `no deployment is registered at ${redactUrlUserInfo(parameters.serviceUrl)}; nothing was cleaned up`, {
      data: { serviceUrl: redactUrlUserInfo(parameters.serviceUrl), registered: deployments.map((d) => redactUrlUserInfo(d.uri)) },
    });
  }

  const latestRevisionHolder = latestRevisionHolders(deployments);
  const outcomes: StaleDeploymentOutcome[] = [];
  for (const stale of deployments.filter((deployment) => deployment.id !== keep.id)) {
    const outcome = await cleanupOne(admin, stale, latestRevisionHolder, forceDrain);
    outcomes.push(outcome);
    const fields = { ...outcome, uri: redactUrlUserInfo(outcome.uri), kept: keep.id, forceDrain };
    if (outcome.outcome === "failed") logger.warn("stale deployment cleanup failed", fields);
    else logger.info(`stale deployment ${outcome.outcome}`, fields);
  }
  return outcomes;
}

async function cleanupOne(
  admin: RestateAdminClient,
  stale: DeploymentSummary,
  latestRevisionHolder: Map<string, string>,
  forceDrain: boolean,
): Promise<StaleDeploymentOutcome> {
  const base = { id: stale.id, uri: stale.uri };
  const latestOf = stale.services.filter((service) => latestRevisionHolder.get(service.name) === stale.id).map((service) => service.name);
  if (latestOf.length > 0) {
    return { ...base, outcome: "kept", reason: `serves the latest revision of ${latestOf.join(", ")}; force-redeploy the kept URL first` };
  }
  try {
    if (!DEPLOYMENT_ID.test(stale.id)) throw new Error(`unexpected deployment id ${JSON.stringify(stale.id)}`);
    const pinned = parseAnswer(
      z.array(pinnedRow),
      await admin.query(`SELECT id FROM sys_invocation WHERE pinned_deployment_id = ${sqlString(stale.id)} AND status != 'completed'`),
      "the pinned invocations query",
    );
    if (pinned.length > 0 && !forceDrain) {
      return { ...base, outcome: "kept", reason: `${pinned.length} unfinished invocation(s) are pinned to it` };
    }
    await admin.deleteDeployment(stale.id, { force: true });
    return { ...base, outcome: "deleted", pinnedInvocations: pinned.length };
  } catch (error) {
    return { ...base, outcome: "failed", error: redactUrlUserInfo(errorMessageOf(error)) };
  }
}

/** Service name → id of the deployment that holds its highest revision. */
function latestRevisionHolders(deployments: DeploymentSummary[]): Map<string, string> {
  const best = new Map<string, { revision: number; id: string }>();
  for (const deployment of deployments) {
    for (const service of deployment.services) {
      const current = best.get(service.name);
      if (!current || service.revision > current.revision) best.set(service.name, { revision: service.revision, id: deployment.id });
    }
  }
  return new Map([...best.entries()].map(([name, { id }]) => [name, id]));
}
