/**
 * force-redeploy: registers a service URL with the admin API (with `force` sent explicitly, since a
 * missing force means false on this API) and answers the deployment id. Old deployments stay as
 * they are: removing them is cleanup-stale-deployments' job.
 */
import { z } from "zod";
import type { RestateAdminClient } from "../../shared/restate/admin-client.ts";

export const serviceUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

export const forceRedeployRequest = z
  .object({
    serviceUrl: serviceUrl.describe("URL of the live worker endpoint to register"),
    force: z.boolean().default(true).describe("Re-discover the endpoint even when this URL is already registered"),
  })
  .strict();

export const forceRedeployResponse = z.object({
  acknowledged: z.literal(true),
  deploymentId: z.string().describe("Id of the deployment now registered at serviceUrl"),
});

export async function forceRedeploy(admin: RestateAdminClient, parameters: { serviceUrl: string; force: boolean }) {
  const registered = await admin.registerDeployment({ uri: parameters.serviceUrl, force: parameters.force });
  return { acknowledged: true as const, deploymentId: registered.id };
}
