/**
 * force-redeploy: registers a service URL with the admin API (with `force` sent explicitly, since a
 * missing force means false on this API) and answers the deployment id. Old deployments stay as
 * they are: removing them is cleanup-stale-deployments' job.
 *
 * The URL is checked before Restate sees it, since the DAPI must not become a way to probe the
 * network from Restate's host:
 * - a URL Restate would refuse, or one carrying credentials (Restate 1.7 cannot register them and
 *   writes them to its log at each discovery retry), is a validation failure; what is sent is the
 *   normalised URL;
 * - Restate's own ports (admin, ingress, node) on Restate's host and link-local or cloud-metadata
 *   addresses are refused unless listed in DAPI_REDEPLOY_ALLOW;
 * - a failed discovery is summarised (the status the endpoint answered, refused, …); the target's
 *   own response headers and body, which Restate quotes, are never relayed.
 */
import { z } from "zod";
import { classifyAddress, resolveAddresses } from "../../shared/http/address-class.ts";
import { RestateAdminError, type RestateAdminClient } from "../../shared/restate/admin-client.ts";
import type { RestateEndpoints } from "../context.ts";
import { DapiError, validationFailed } from "../errors.ts";
import { redactUrlUserInfo } from "../redact.ts";

export const MAX_SERVICE_URL_LENGTH = 2_048;
/** The characters of an RFC 3986 URI; anything else (spaces, quotes, `<`, `\`, non-ASCII) must be percent-encoded. */
const URI_CHARACTERS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;

/** Why Restate would not take `value` as a deployment URL, or null. */
function serviceUrlProblem(value: string): string | null {
  if (redactUrlUserInfo(value) !== value || (URL.canParse(value) && (new URL(value).username || new URL(value).password))) {
    return "must not contain credentials (user:password@): Restate cannot register such a URL and would write it to its log; put the endpoint behind a URL without them";
  }
  if (!URI_CHARACTERS.test(value)) return "must be a URL of plain ASCII characters: no spaces, quotes, backslashes or non-ASCII host (percent-encode them)";
  if (!/^https?:\/\/[^/?#]/i.test(value) || !URL.canParse(value)) return "must be an http(s) URL: http:// or https:// followed by a host";
  const parsed = new URL(value);
  const authority = value.slice(value.indexOf("//") + 2).split(/[/?#]/)[0] ?? "";
  const host = authority.replace(/:\d*$/, "").toLowerCase();
  if (parsed.hostname !== host) return "must name its host as Restate reads it (a plain host name, an IPv4 address, or an IPv6 address in brackets)";
  return null;
}

/** A deployment URL: checked as above, then normalised (`new URL().href`) for Restate. */
export const serviceUrl = z
  .string({ error: "must be an http(s) URL" })
  .max(MAX_SERVICE_URL_LENGTH, `must be at most ${MAX_SERVICE_URL_LENGTH} characters`)
  .superRefine((value, context) => {
    const problem = serviceUrlProblem(value);
    if (problem) context.addIssue({ code: "custom", message: problem });
  })
  .transform((value) => new URL(value).href);

export const forceRedeployRequest = z
  .object({
    serviceUrl: serviceUrl.describe("URL of the live worker endpoint to register (sent to Restate normalised)"),
    force: z.boolean().default(true).describe("Re-discover the endpoint even when this URL is already registered"),
  })
  .strict();

export const forceRedeployResponse = z.object({
  acknowledged: z.literal(true),
  deploymentId: z.string().describe("Id of the deployment now registered at serviceUrl"),
});

/** Restate's default node port (restate.toml); Restate's admin and ingress ports come from the configuration. */
const RESTATE_NODE_PORT = 5122;
const LOOKUP_TIMEOUT_MS = 3_000;

export type DeploymentTargetPolicy = {
  restate: Pick<RestateEndpoints, "adminUrl" | "ingressUrl">;
  /** `host:port` entries (DAPI_REDEPLOY_ALLOW) exempt from the refusals below. */
  allow: readonly string[];
};

const portOf = (url: URL) => Number(url.port || (url.protocol === "https:" ? 443 : 80));

async function addressesOf(hostname: string): Promise<string[]> {
  // A name that does not resolve here is left to Restate, which reports it as a failed discovery.
  return resolveAddresses(hostname, LOOKUP_TIMEOUT_MS).catch(() => []);
}

/**
 * Refuses (VALIDATION_FAILED on serviceUrl) a target that is one of Restate's own ports on
 * Restate's host, or that resolves to a link-local, metadata or unspecified address.
 */
export async function checkDeploymentTarget(url: string, policy: DeploymentTargetPolicy): Promise<void> {
  const target = new URL(url);
  const port = portOf(target);
  if (policy.allow.includes(`${target.hostname}:${port}`)) return;
  const addresses = await addressesOf(target.hostname);
  const refusedAddress = addresses.find((address) => ["link-local", "metadata", "unspecified"].includes(classifyAddress(address)));
  if (refusedAddress) {
    throw validationFailed(
      "serviceUrl",
      `resolves to ${refusedAddress} (${classifyAddress(refusedAddress)}), where no worker may be registered; list ${target.hostname}:${port} in DAPI_REDEPLOY_ALLOW if this is intended`,
    );
  }
  const restateUrls = [new URL(policy.restate.adminUrl), new URL(policy.restate.ingressUrl)];
  const restatePorts = new Set([...restateUrls.map(portOf), RESTATE_NODE_PORT]);
  if (!restatePorts.has(port)) return;
  const restateAddresses = (await Promise.all(restateUrls.map((restateUrl) => addressesOf(restateUrl.hostname)))).flat();
  const sameHost =
    target.hostname === restateUrls[0]!.hostname ||
    target.hostname === restateUrls[1]!.hostname ||
    addresses.some((address) => restateAddresses.includes(address)) ||
    (addresses.some((address) => classifyAddress(address) === "loopback") && restateAddresses.some((address) => classifyAddress(address) === "loopback"));
  if (sameHost) {
    throw validationFailed(
      "serviceUrl",
      `port ${port} on ${target.hostname} is one of Restate's own ports (admin, ingress or node), not a worker endpoint; list ${target.hostname}:${port} in DAPI_REDEPLOY_ALLOW if this is intended`,
    );
  }
}

export type ForceRedeployParameters = {
  serviceUrl: string;
  force: boolean;
  /** Whether the admin API still answers (after a registration that timed out). */
  adminAnswers: () => Promise<boolean>;
};

export async function forceRedeploy(admin: RestateAdminClient, parameters: ForceRedeployParameters) {
  try {
    const registered = await admin.registerDeployment({ uri: parameters.serviceUrl, force: parameters.force });
    return { acknowledged: true as const, deploymentId: registered.id };
  } catch (error) {
    if (error instanceof RestateAdminError && error.code === "RESTATE_ADMIN_UNREACHABLE" && isTimeout(error) && (await parameters.adminAnswers())) {
      // Restate waits for the endpoint's discovery answer; the admin API itself is fine.
      throw new DapiError(
        "SERVICE_ENDPOINT_NOT_ANSWERING",
        `Restate reached ${parameters.serviceUrl}, which did not answer its discovery request in time; check that a healthy Restate endpoint listens there (the registration may still complete: run doctor)`,
        { data: { serviceUrl: parameters.serviceUrl } },
      );
    }
    if (error instanceof RestateAdminError && error.restateCode?.startsWith("META")) throw discoveryFailure(error, parameters.serviceUrl);
    throw error;
  }
}

function isTimeout(error: RestateAdminError): boolean {
  return (error.cause as { name?: string } | undefined)?.name === "TimeoutError";
}

/** What went wrong with a discovery, without the endpoint's own headers and body that Restate quotes. */
function discoveryFailure(error: RestateAdminError, serviceUrl: string): DapiError {
  const raw = error.message;
  const status = /status code '?(\d{3})/i.exec(raw)?.[1];
  const reason = status
    ? `the endpoint answered HTTP ${status} instead of a Restate discovery response`
    : error.restateCode === "META0014"
      ? "the endpoint did not answer over HTTP/2 (it may speak only HTTP/1.1, or not be a Restate endpoint)"
      : /connection refused/i.test(raw)
        ? "the connection was refused"
        : /dns|lookup|resolve/i.test(raw)
          ? "its host name does not resolve from Restate"
          : /certificate|tls|handshake/i.test(raw)
            ? "the TLS handshake failed"
            : /timed? ?out|elapsed/i.test(raw)
              ? "it did not answer in time"
              : "Restate could not discover a service endpoint there";
  return new DapiError("RESTATE_ADMIN_REQUEST_FAILED", `Restate could not register ${serviceUrl}: ${reason} (${error.restateCode}); the endpoint's own answer is not relayed`, {
    status: 502,
    data: { status: error.status ?? null, restateCode: error.restateCode ?? null },
  });
}
