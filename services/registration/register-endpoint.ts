/**
 * Registers the worker endpoint with the Restate admin API.
 *
 * - No deployment at this URI yet: register it.
 * - A deployment at this URI exists: discover the endpoint again in dry-run mode and compare its
 *   services and handlers with what Restate holds. Unchanged: keep it (no new revision). Changed:
 *   re-register with force, so the new handlers are discovered under the same deployment id.
 *
 * The admin API may not answer yet (Restate still starting): transport failures and 5xx answers
 * are retried with backoff until `timeoutMs`; a 4xx answer is a configuration problem and fails at once.
 */
import { RestateAdminError, sameDeploymentUri, type RestateAdminClient, type ServiceMetadata } from "../../shared/restate/admin-client.ts";
import type { Logger } from "../../shared/logger.ts";
import type { RegistrationOutcome } from "../../shared/telemetry/worker-metrics.ts";

export type RegisterEndpointParameters = {
  admin: RestateAdminClient;
  uri: string;
  timeoutMs: number;
  logger: Logger;
  onAttempt?: (outcome: RegistrationOutcome) => void;
};

export type RegisterEndpointReturnType = {
  deploymentId: string;
  outcome: Exclude<RegistrationOutcome, "failed" | "skipped">;
  services: string[];
};

export async function registerEndpoint(parameters: RegisterEndpointParameters): Promise<RegisterEndpointReturnType> {
  const deadline = Date.now() + parameters.timeoutMs;
  let delayMs = 200;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await registerOnce(parameters.admin, parameters.uri);
      parameters.onAttempt?.(result.outcome);
      parameters.logger.info("endpoint registration", { ...result, uri: parameters.uri, attempt });
      return result;
    } catch (error) {
      parameters.onAttempt?.("failed");
      const retryable = isRetryable(error);
      const message = error instanceof Error ? error.message : String(error);
      if (!retryable || Date.now() + delayMs > deadline) {
        parameters.logger.error("endpoint registration failed", { uri: parameters.uri, attempt, error: message });
        throw error;
      }
      parameters.logger.warn("endpoint registration will be retried", { uri: parameters.uri, attempt, error: message, retryInMs: delayMs });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      delayMs = Math.min(delayMs * 2, 5_000);
    }
  }
}

async function registerOnce(admin: RestateAdminClient, uri: string): Promise<RegisterEndpointReturnType> {
  const existing = (await admin.listDeployments()).find((deployment) => sameDeploymentUri(deployment.uri, uri));
  if (!existing) {
    const created = await admin.registerDeployment({ uri, force: false });
    return { deploymentId: created.id, outcome: "registered", services: created.services.map((s) => s.name) };
  }
  const [discovered, current] = await Promise.all([
    admin.registerDeployment({ uri, force: true, dryRun: true }),
    admin.getDeployment(existing.id),
  ]);
  if (servicesFingerprint(discovered.services) === servicesFingerprint(current.services)) {
    return { deploymentId: existing.id, outcome: "unchanged", services: current.services.map((s) => s.name) };
  }
  const updated = await admin.registerDeployment({ uri, force: true });
  return { deploymentId: updated.id, outcome: "updated", services: updated.services.map((s) => s.name) };
}

/** Fields that change on every registration and say nothing about the endpoint's contract. */
const VOLATILE_SERVICE_FIELDS = new Set(["revision", "deployment_id", "info"]);

/** A stable description of services and handlers, insensitive to ordering and revision numbers. */
export function servicesFingerprint(services: ServiceMetadata[]): string {
  const normalised = [...services]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((service) => {
      const fields = Object.entries(service)
        .filter(([key]) => !VOLATILE_SERVICE_FIELDS.has(key) && key !== "handlers")
        .sort(([a], [b]) => a.localeCompare(b));
      const handlers = [...service.handlers]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((handler) => Object.entries(handler).sort(([a], [b]) => a.localeCompare(b)));
      return { fields, handlers };
    });
  return JSON.stringify(normalised);
}

function isRetryable(error: unknown): boolean {
  if (!(error instanceof RestateAdminError)) return false;
  if (error.code === "RESTATE_ADMIN_UNREACHABLE") return true;
  // 5xx: the admin is up but cannot reach the endpoint yet (META0003), or is still starting.
  return error.status !== undefined && error.status >= 500;
}
