/**
 * A typed client for the parts of the Restate admin API (server 1.7) that ddwf uses. Every route
 * here is checked against the server's own `GET /openapi` by an integration test.
 *
 * Transport failures (refused, DNS, timeout) become `RESTATE_ADMIN_UNREACHABLE`; an answer with an
 * error status becomes `RESTATE_ADMIN_REQUEST_FAILED` carrying the status and Restate's error body.
 */
import { DomainError } from "../errors.ts";

export type AdminErrorCode = "RESTATE_ADMIN_UNREACHABLE" | "RESTATE_ADMIN_REQUEST_FAILED";

export class RestateAdminError extends DomainError<AdminErrorCode> {
  readonly status: number | undefined;
  readonly restateCode: string | undefined;
  constructor(code: AdminErrorCode, message: string, options?: { status?: number; restateCode?: string; cause?: unknown }) {
    super(code, message, { cause: options?.cause });
    this.name = "RestateAdminError";
    this.status = options?.status;
    this.restateCode = options?.restateCode;
  }
}

export type DeploymentSummary = {
  id: string;
  uri: string;
  created_at: string;
  services: { name: string; revision: number }[];
};

export type DeploymentDetails = Omit<DeploymentSummary, "services"> & { services: ServiceMetadata[] };

export type HandlerMetadata = { name: string; ty?: string; [field: string]: unknown };
export type ServiceMetadata = {
  name: string;
  ty: string;
  revision: number;
  deployment_id: string;
  handlers: HandlerMetadata[];
  [field: string]: unknown;
};

export type RegisterDeploymentResult = { id: string; services: ServiceMetadata[]; status: number };

export type RestateAdminClient = {
  readonly baseUrl: string;
  health(): Promise<void>;
  version(): Promise<{ version: string; [field: string]: unknown }>;
  /** `GET /cluster-health`: the cluster's name and the members of its replicated metadata store. */
  clusterHealth(): Promise<unknown>;
  listDeployments(): Promise<DeploymentSummary[]>;
  getDeployment(id: string): Promise<DeploymentDetails>;
  registerDeployment(parameters: { uri: string; force: boolean; dryRun?: boolean }): Promise<RegisterDeploymentResult>;
  deleteDeployment(id: string, parameters: { force: boolean }): Promise<void>;
  listServices(): Promise<ServiceMetadata[]>;
  /** One service as registered, with its options (retentions, timeouts). */
  getService(name: string): Promise<ServiceMetadata>;
  /** Runs SQL over the introspection tables and returns rows as JSON objects. */
  query<Row = Record<string, unknown>>(sql: string): Promise<Row[]>;
  killInvocation(id: string): Promise<void>;
  cancelInvocation(id: string): Promise<void>;
  purgeInvocation(id: string): Promise<void>;
  resumeInvocation(id: string, parameters?: { deployment?: string }): Promise<void>;
  /** Replaces the whole state of one key of a virtual object or workflow (`{}` clears it). */
  setState(service: string, parameters: { objectKey: string; newState: Record<string, number[]>; version?: string }): Promise<void>;
};

export type CreateRestateAdminClientParameters = {
  baseUrl: string;
  authToken?: string | undefined;
  timeoutMs?: number;
  fetch?: typeof fetch;
};

export function createRestateAdminClient(parameters: CreateRestateAdminClientParameters): RestateAdminClient {
  const baseUrl = parameters.baseUrl.replace(/\/+$/, "");
  const timeoutMs = parameters.timeoutMs ?? 10_000;
  const doFetch = parameters.fetch ?? fetch;

  async function request(method: string, path: string, body?: unknown, accept = "application/json"): Promise<Response> {
    const headers: Record<string, string> = { accept };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (parameters.authToken) headers.authorization = `Bearer ${parameters.authToken}`;
    let response: Response;
    try {
      response = await doFetch(`${baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new RestateAdminError("RESTATE_ADMIN_UNREACHABLE", `Restate admin API at ${baseUrl} is unreachable: ${describeTransportError(error)}`, { cause: error });
    }
    if (!response.ok) {
      const text = await response.text().catch(() => "");
      let restateCode: string | undefined;
      let message = text;
      try {
        const parsed = JSON.parse(text) as { message?: string; restate_code?: string };
        message = parsed.message ?? text;
        restateCode = parsed.restate_code;
      } catch {
        // not JSON: keep the text
      }
      throw new RestateAdminError(
        "RESTATE_ADMIN_REQUEST_FAILED",
        `Restate admin ${method} ${path} answered ${response.status}${message ? `: ${message}` : ""}`,
        { status: response.status, restateCode },
      );
    }
    return response;
  }

  const json = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await request(method, path, body);
    const text = await response.text();
    return (text === "" ? undefined : JSON.parse(text)) as T;
  };
  const invocationAction = async (id: string, action: string, query = "") => {
    await request("PATCH", `/invocations/${encodeURIComponent(id)}/${action}${query}`);
  };

  return {
    baseUrl,
    health: async () => {
      await request("GET", "/health");
    },
    version: () => json("GET", "/version"),
    clusterHealth: () => json("GET", "/cluster-health"),
    listDeployments: async () => (await json<{ deployments: DeploymentSummary[] }>("GET", "/deployments")).deployments,
    getDeployment: (id) => json("GET", `/deployments/${encodeURIComponent(id)}`),
    registerDeployment: async ({ uri, force, dryRun }) => {
      // `force` is always sent: on this API a missing force means false, and re-registering a
      // known URI without it silently keeps the old services.
      const response = await request("POST", "/deployments", { uri, force, dry_run: dryRun ?? false });
      const body = (await response.json()) as { id: string; services: ServiceMetadata[] };
      return { ...body, status: response.status };
    },
    deleteDeployment: async (id, { force }) => {
      await request("DELETE", `/deployments/${encodeURIComponent(id)}?force=${force}`);
    },
    listServices: async () => (await json<{ services: ServiceMetadata[] }>("GET", "/services")).services,
    getService: (name) => json("GET", `/services/${encodeURIComponent(name)}`),
    query: async <Row>(sql: string) => (await json<{ rows: Row[] }>("POST", "/query", { query: sql })).rows,
    killInvocation: (id) => invocationAction(id, "kill"),
    cancelInvocation: (id) => invocationAction(id, "cancel"),
    purgeInvocation: (id) => invocationAction(id, "purge"),
    resumeInvocation: (id, options) =>
      invocationAction(id, "resume", options?.deployment ? `?deployment=${encodeURIComponent(options.deployment)}` : ""),
    setState: async (service, { objectKey, newState, version }) => {
      await request("POST", `/services/${encodeURIComponent(service)}/state`, {
        object_key: objectKey,
        new_state: newState,
        ...(version === undefined ? {} : { version }),
      });
    },
  };
}

function describeTransportError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    if (error.name === "TimeoutError") return "timed out";
    if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ""}`;
    return error.message;
  }
  return String(error);
}

/** Restate normalises deployment URIs with a trailing slash; compare them the same way. */
export function sameDeploymentUri(a: string, b: string): boolean {
  const normalise = (uri: string) => (uri.endsWith("/") ? uri : `${uri}/`);
  return normalise(a) === normalise(b);
}
