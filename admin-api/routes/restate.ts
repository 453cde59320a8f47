/**
 * The four Restate recovery routes, all POST with a JSON body, all needing `system:operate` and all
 * audited: doctor, force-redeploy, cleanup-stale-deployments, recover-stuck-workflow.
 */
import { Hono } from "hono";
import type { DapiEnv } from "../context.ts";
import type { ServicesSource } from "../middleware/services.ts";
import { defineOperation } from "../openapi/operation.ts";
import { cleanupStaleDeployments, cleanupStaleDeploymentsRequest } from "../operator/cleanup-stale-deployments.ts";
import { doctorRequest, doctorResponse, runDoctor } from "../operator/doctor.ts";
import { checkDeploymentTarget, forceRedeploy, forceRedeployRequest, forceRedeployResponse } from "../operator/force-redeploy.ts";
import { createRestateAdminClient } from "../../shared/restate/admin-client.ts";
import { acknowledgedResponse, recoverStuckWorkflow, recoverStuckWorkflowRequest } from "../operator/recover-stuck-workflow.ts";
import { parseJsonBody } from "../request-input.ts";
import { guard, relativePath } from "./guard.ts";

export const RESTATE_OPERATOR_PREFIX = "/api/v2/admin/operator/restate";

export const restateOperations = {
  doctor: defineOperation({
    operationId: "restateDoctor",
    method: "post",
    path: `${RESTATE_OPERATOR_PREFIX}/doctor`,
    tag: "restate",
    summary: "Health readout of ingress, admin API, deployments, services and invocations",
    description:
      "Read-only. Probes run in parallel with a timeout each; a failing probe marks only its component degraded or unreachable. Fails only when the admin URL's host cannot be resolved.",
    permission: "system:operate",
    audited: true,
    body: doctorRequest,
    response: doctorResponse,
    errors: ["RESTATE_ADMIN_UNREACHABLE"],
  }),
  forceRedeploy: defineOperation({
    operationId: "restateForceRedeploy",
    method: "post",
    path: `${RESTATE_OPERATOR_PREFIX}/force-redeploy`,
    tag: "restate",
    summary: "Register a worker URL again (force by default) and answer its deployment id",
    description:
      "Drains and deletes nothing; follow with cleanup-stale-deployments to remove old deployments. URLs with credentials, Restate's own ports and link-local or metadata addresses are refused; a failed discovery is summarised without the endpoint's own answer.",
    permission: "system:operate",
    audited: true,
    body: forceRedeployRequest,
    response: forceRedeployResponse,
    errors: ["RESTATE_ADMIN_UNREACHABLE", "RESTATE_ADMIN_REQUEST_FAILED", "SERVICE_ENDPOINT_NOT_ANSWERING"],
  }),
  cleanupStaleDeployments: defineOperation({
    operationId: "restateCleanupStaleDeployments",
    method: "post",
    path: `${RESTATE_OPERATOR_PREFIX}/cleanup-stale-deployments`,
    tag: "restate",
    summary: "Keep the deployment registered at serviceUrl and delete the drained others",
    description:
      "A stale deployment that still holds a service's latest revision is kept; with forceDrain false, so is one with unfinished pinned invocations. Per-deployment outcomes are logged.",
    permission: "system:operate",
    audited: true,
    body: cleanupStaleDeploymentsRequest,
    response: acknowledgedResponse,
    errors: ["RESTATE_ADMIN_UNREACHABLE", "RESTATE_DEPLOYMENT_NOT_FOUND"],
  }),
  recoverStuckWorkflow: defineOperation({
    operationId: "restateRecoverStuckWorkflow",
    method: "post",
    path: `${RESTATE_OPERATOR_PREFIX}/recover-stuck-workflow`,
    tag: "restate",
    summary: "Purge the terminal-failed invocations of one workflow key and clear its state",
    description:
      "Refused with RESTATE_WORKFLOW_RETRY_BLOCKED (409, data.reason active-invocation or already-succeeded) when an invocation of the key is unfinished or the run already succeeded; purge-failed and query-failed answer 502. A key with no invocation at all is RESTATE_WORKFLOW_NOT_FOUND (404), nothing changed. While a finished run of the key still has a sleep that has not come due, the answer is RESTATE_WORKFLOW_TIMERS_PENDING (409) with a Retry-After header and data.retryAt: Restate keeps that timer through kill and purge and would deliver it into the key's next run, which has the same invocation id. Nothing is changed then; ask again after Retry-After seconds.",
    permission: "system:operate",
    audited: true,
    body: recoverStuckWorkflowRequest,
    response: acknowledgedResponse,
    errors: ["RESTATE_ADMIN_UNREACHABLE", "RESTATE_ADMIN_REQUEST_FAILED", "RESTATE_WORKFLOW_RETRY_BLOCKED", "RESTATE_WORKFLOW_TIMERS_PENDING", "RESTATE_WORKFLOW_NOT_FOUND"],
  }),
};

export function createRestateRoutes(source: ServicesSource | undefined): Hono<DapiEnv> {
  const routes = new Hono<DapiEnv>();
  const at = (operation: (typeof restateOperations)[keyof typeof restateOperations]) => relativePath(operation, RESTATE_OPERATOR_PREFIX);

  routes.post(at(restateOperations.doctor), guard(restateOperations.doctor, source), async (c) => {
    await parseJsonBody(c, doctorRequest);
    const { restate, doctorProbeTimeoutMs } = c.var.services;
    return c.json(await runDoctor({ restate, probeTimeoutMs: doctorProbeTimeoutMs }));
  });

  routes.post(at(restateOperations.forceRedeploy), guard(restateOperations.forceRedeploy, source), async (c) => {
    const input = await parseJsonBody(c, forceRedeployRequest);
    const { admin, restate, redeployAllow } = c.var.services;
    await checkDeploymentTarget(input.serviceUrl, { restate, allow: redeployAllow });
    const healthProbe = createRestateAdminClient({ baseUrl: restate.adminUrl, authToken: restate.authToken, timeoutMs: 1_000 });
    const result = await forceRedeploy(admin, { ...input, adminAnswers: () => healthProbe.health().then(() => true, () => false) });
    c.var.logger.info("service URL registered", { deploymentId: result.deploymentId, force: input.force });
    return c.json(result);
  });

  routes.post(at(restateOperations.cleanupStaleDeployments), guard(restateOperations.cleanupStaleDeployments, source), async (c) => {
    const input = await parseJsonBody(c, cleanupStaleDeploymentsRequest);
    await cleanupStaleDeployments({ admin: c.var.services.admin, serviceUrl: input.serviceUrl, forceDrain: input.forceDrain, logger: c.var.logger });
    return c.json({ acknowledged: true as const });
  });

  routes.post(at(restateOperations.recoverStuckWorkflow), guard(restateOperations.recoverStuckWorkflow, source), async (c) => {
    const input = await parseJsonBody(c, recoverStuckWorkflowRequest);
    await recoverStuckWorkflow({ admin: c.var.services.admin, ...input, logger: c.var.logger, requireInvocations: true });
    return c.json({ acknowledged: true as const });
  });

  return routes;
}
