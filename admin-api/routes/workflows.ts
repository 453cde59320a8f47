/** Read-only inspection of one workflow instance: its state and its invocation history. */
import { Hono } from "hono";
import type { DapiEnv } from "../context.ts";
import type { ServicesSource } from "../middleware/services.ts";
import { defineOperation } from "../openapi/operation.ts";
import { inspectWorkflowInstance, workflowInstanceParams, workflowInstanceResponse } from "../operator/workflow-inspection.ts";
import { parseParams } from "../request-input.ts";
import { guard, relativePath } from "./guard.ts";

export const WORKFLOWS_PREFIX = "/api/v2/admin/operator/workflows";

export const workflowOperations = {
  inspect: defineOperation({
    operationId: "inspectWorkflowInstance",
    method: "get",
    path: `${WORKFLOWS_PREFIX}/:serviceName/:serviceKey`,
    tag: "workflows",
    summary: "Current state and invocation history (with journals) of one workflow instance",
    permission: "system:read",
    audited: true,
    params: workflowInstanceParams,
    response: workflowInstanceResponse,
    errors: ["RESTATE_ADMIN_UNREACHABLE", "RESTATE_ADMIN_REQUEST_FAILED"],
  }),
};

export function createWorkflowRoutes(source: ServicesSource | undefined): Hono<DapiEnv> {
  const routes = new Hono<DapiEnv>();
  routes.get(relativePath(workflowOperations.inspect, WORKFLOWS_PREFIX), guard(workflowOperations.inspect, source), async (c) => {
    const { serviceName, serviceKey } = parseParams(c, workflowInstanceParams);
    return c.json(await inspectWorkflowInstance(c.var.services.admin, serviceName, serviceKey));
  });
  return routes;
}
