import { describe, expect, it } from "vitest";
import { createDapiApp } from "../../admin-api/app.ts";
import type { OperatorServices } from "../../admin-api/context.ts";
import { cleanupStaleDeploymentsRequest } from "../../admin-api/operator/cleanup-stale-deployments.ts";
import { forceRedeployRequest } from "../../admin-api/operator/force-redeploy.ts";
import { DapiError } from "../../admin-api/errors.ts";
import type { AuditFinish, AuditStart, DapiStores, StoredApiKey } from "../../admin-api/stores.ts";
import { createReadiness } from "../../shared/http/readiness.ts";
import { createLogger } from "../../shared/logger.ts";
import type { RestateAdminClient } from "../../shared/restate/admin-client.ts";

const RESTATE = "/api/v2/admin/operator/restate";
const APPROVER = "0x00000000000000000000000000000000000000a1";
const SIGNATURE = `0x${"ab".repeat(65)}`;
const KEYS: Record<string, StoredApiKey> = {
  "operator-key-000000000000": { id: "key_op", actorId: "alice", role: "operator", permissions: ["system:operate", "system:read"] },
  "viewer-key-00000000000000": { id: "key_view", actorId: "victor", role: "viewer", permissions: ["system:read"] },
};

/** In-memory stores and an admin client that fails the test if any route reaches Restate. */
function createFakes() {
  const rows: (AuditStart & { id: string; finished?: AuditFinish })[] = [];
  const logLines: string[] = [];
  const stores: DapiStores = {
    apiKeys: { findByPlaintext: async (plaintext) => KEYS[plaintext], touch: async () => {} },
    audit: {
      start: async (entry) => {
        const id = `audit-${rows.length + 1}`;
        rows.push({ ...entry, id });
        return { id };
      },
      finish: async (id, result) => {
        const row = rows.find((candidate) => candidate.id === id);
        if (row) row.finished = result;
      },
      list: async () => ({ entries: [], nextCursor: null }),
    },
    deadLetters: { list: async () => [], get: async () => undefined, markReplayed: async () => false },
    approvals: { list: async () => ({ rows: [], nextCursor: null }) },
  };
  const admin = new Proxy({} as RestateAdminClient, {
    get: (_target, property) => () => {
      throw new Error(`unexpected admin call ${String(property)}`);
    },
  });
  const services: OperatorServices = {
    stores,
    admin,
    restate: { adminUrl: "http://127.0.0.1:1", ingressUrl: "http://127.0.0.1:1" },
    doctorProbeTimeoutMs: 100,
    redeployAllow: [],
    replays: {},
    transactions: {
      inspect: async () => undefined,
      cancel: async () => {
        throw new Error("unexpected transaction call");
      },
      // Stands in for the workflow's check: one approver counts, everyone else is outside the policy.
      approve: async (transactionId, request) => {
        if (request.approver !== APPROVER) throw new DapiError("APPROVER_NOT_IN_POLICY", `approver: ${request.approver} is not an approver of this signer's policy`, { data: { field: "approver" } });
        return { counted: true, transactionId, approver: request.approver, decision: request.decision, at: "2026-01-01T00:00:00.000Z" };
      },
    },
  };
  const app = createDapiApp({
    readiness: createReadiness([]),
    renderMetrics: async () => "",
    operator: services,
    logger: createLogger({ service: "test", level: "debug", sink: (line) => logLines.push(line) }),
  });
  const post = (path: string, body: string, key: string | null = "operator-key-000000000000") =>
    app.request(path, { method: "POST", headers: { "content-type": "application/json", ...(key ? { "x-api-key": key } : {}) }, body });
  return { app, rows, logLines, post };
}

describe("DAPI routes without a database or Restate", () => {
  it("answers X-Request-Id on success, refusal and unknown routes, and keeps a caller's id", async () => {
    const { app, post } = createFakes();
    const responses = [
      await app.request("/health/live"),
      await app.request("/api/v2/admin/openapi.json"),
      await app.request("/api/v2/admin/no-such-route"),
      await post(`${RESTATE}/doctor`, "{}", null),
    ];
    expect(responses.map((response) => response.status)).toEqual([200, 200, 404, 401]);
    for (const response of responses) expect(response.headers.get("x-request-id")).toMatch(/^req_/);
    const own = await app.request("/health/live", { headers: { "x-request-id": "incident-42-call-7" } });
    expect(own.headers.get("x-request-id")).toBe("incident-42-call-7");
    const notFound = (await responses[2]!.json()) as { requestId: string };
    expect(notFound.requestId).toBe(responses[2]!.headers.get("x-request-id"));
  });

  it("answers a missing key with 401 UNAUTHENTICATED in the envelope and audits nothing", async () => {
    const { rows, post } = createFakes();
    const response = await post(`${RESTATE}/recover-stuck-workflow`, "{}", null);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      code: "UNAUTHENTICATED",
      message: expect.any(String) as unknown,
      data: null,
      requestId: response.headers.get("x-request-id"),
    });
    expect(rows).toEqual([]);
  });

  it("answers a key without system:operate with 403 UNAUTHORIZED and audits nothing", async () => {
    const { rows, post } = createFakes();
    const response = await post(`${RESTATE}/doctor`, "{}", "viewer-key-00000000000000");
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: "UNAUTHORIZED" });
    expect(rows).toEqual([]);
  });

  it("answers 503 DAPI_NOT_READY while the operator services are still starting", async () => {
    const app = createDapiApp({ readiness: createReadiness([]), renderMetrics: async () => "", operator: () => undefined, logger: createLogger({ service: "t", sink: () => {} }) });
    const response = await app.request(`${RESTATE}/doctor`, { method: "POST", body: "{}" });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ code: "DAPI_NOT_READY" });
  });

  it("answers a body that is not JSON with 400 BAD_REQUEST_BODY and one failure row", async () => {
    const { rows, post } = createFakes();
    const response = await post(`${RESTATE}/force-redeploy`, "{serviceUrl:");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: "BAD_REQUEST_BODY" });
    expect(rows).toMatchObject([{ actorId: "alice", actorRole: "operator", route: `POST ${RESTATE}/force-redeploy`, finished: { outcome: "failure", errorCode: "BAD_REQUEST_BODY" } }]);
  });

  it("rejects an unknown field with 400 naming it, storing the attempt's arguments sanitized", async () => {
    const { rows, post } = createFakes();
    const response = await post(`${RESTATE}/cleanup-stale-deployments`, JSON.stringify({ serviceUrl: "http://u:pw@h:1/x?y#z", drain: true, token: "t0k" }));
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; data: { issues: { field: string }[] } };
    expect(body.code).toBe("VALIDATION_FAILED");
    expect(body.data.issues.map((issue) => issue.field)).toEqual(expect.arrayContaining(["drain", "token"]));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ arguments: { serviceUrl: "http://REDACTED@h:1/x?y#z", drain: true, token: "REDACTED" }, finished: { outcome: "failure" } });
  });

  it("rejects serviceName and serviceKey outside ^[a-zA-Z0-9_-]+$ naming both fields", async () => {
    const { post } = createFakes();
    const response = await post(`${RESTATE}/recover-stuck-workflow`, JSON.stringify({ serviceName: "Engine.Canary", serviceKey: "" }));
    expect(response.status).toBe(400);
    const body = (await response.json()) as { data: { issues: { field: string }[] } };
    expect(body.data.issues.map((issue) => issue.field).sort()).toEqual(["serviceKey", "serviceName"]);
  });

  it("rejects a missing or non-http serviceUrl with 400 naming serviceUrl", async () => {
    const { post } = createFakes();
    for (const body of [{}, { serviceUrl: "ftp://worker:9080" }, { serviceUrl: "not a url" }]) {
      const response = await post(`${RESTATE}/force-redeploy`, JSON.stringify(body));
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ data: { issues: [{ field: "serviceUrl" }] } });
    }
  });

  it("rejects any field on doctor, whose body is an empty object", async () => {
    const { post } = createFakes();
    const response = await post(`${RESTATE}/doctor`, JSON.stringify({ verbose: true }));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ data: { issues: [{ field: "verbose" }] } });
  });

  it("defaults force to true and forceDrain to false, and normalises the URL as Restate stores it", () => {
    expect(forceRedeployRequest.parse({ serviceUrl: "http://w:9080" })).toEqual({ serviceUrl: "http://w:9080/", force: true });
    expect(cleanupStaleDeploymentsRequest.parse({ serviceUrl: "HTTP://W:9080" })).toEqual({ serviceUrl: "http://w:9080/", forceDrain: false });
  });

  it("serves an OpenAPI document generated from the route schemas", async () => {
    const { app } = createFakes();
    const document = (await (await app.request("/api/v2/admin/openapi.json")).json()) as {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: { content: { "application/json": { schema: Record<string, unknown> } } }; responses: Record<string, unknown> }>>;
      components: { securitySchemes: Record<string, unknown> };
    };
    expect(document.openapi).toBe("3.1.0");
    for (const route of ["doctor", "force-redeploy", "cleanup-stale-deployments", "recover-stuck-workflow"]) {
      expect(document.paths[`${RESTATE}/${route}`]?.post).toBeDefined();
    }
    const recover = document.paths[`${RESTATE}/recover-stuck-workflow`]!.post!;
    expect(recover.requestBody?.content["application/json"].schema).toMatchObject({
      additionalProperties: false,
      required: ["serviceName", "serviceKey"],
      properties: { serviceKey: { pattern: "^[a-zA-Z0-9_-]+$" } },
    });
    expect(Object.keys(recover.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "403", "409", "502", "503"]));
    expect(document.paths[`${RESTATE}/force-redeploy`]!.post!.requestBody?.content["application/json"].schema).toMatchObject({
      properties: { force: { default: true } },
    });
    expect(document.paths["/api/v2/admin/operator/dead-letters/{id}/replay"]?.post).toBeDefined();
    expect(document.components.securitySchemes.apiKey).toEqual({ type: "apiKey", in: "header", name: "X-Api-Key" });
  });

  it("documents Retry-After on the 409 answer of the routes that wait for a finished run's timers, and nowhere else", async () => {
    const { app } = createFakes();
    const document = (await (await app.request("/api/v2/admin/openapi.json")).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, { description: string; headers?: Record<string, unknown> }> }>>;
    };
    const withRetryAfter = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item).flatMap(([method, operation]) =>
        Object.entries(operation.responses)
          .filter(([, response]) => response.headers?.["Retry-After"])
          .map(([status, response]) => ({ route: `${method} ${path}`, status, description: response.description })),
      ),
    );
    expect(withRetryAfter).toEqual([
      { route: `post ${RESTATE}/recover-stuck-workflow`, status: "409", description: expect.stringContaining("RESTATE_WORKFLOW_TIMERS_PENDING") as unknown },
      { route: "post /api/v2/admin/operator/dead-letters/{id}/replay", status: "409", description: expect.stringContaining("RESTATE_WORKFLOW_TIMERS_PENDING") as unknown },
    ]);
  });
});

describe("the operator console and whoami, without a database or Restate", () => {
  const CONSOLE_HEADERS = ["content-security-policy", "x-frame-options", "referrer-policy", "x-content-type-options", "cache-control"];

  it("serves the console page, its script modules and its style sheet with a strict Content-Security-Policy, without a key", async () => {
    const { app } = createFakes();
    const page = await app.request("/console");
    const html = await page.text();
    const csp = page.headers.get("content-security-policy") ?? "";

    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(csp.split("; ")).toEqual(
      expect.arrayContaining(["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "form-action 'none'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"]),
    );
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    for (const header of CONSOLE_HEADERS) expect(page.headers.get(header)).not.toBeNull();
    // Every module the page loads, followed through its imports, is served as JavaScript with the same policy.
    const pending = [...html.matchAll(/<script[^>]* src="([^"]+)"/g)].map((match) => match[1]!);
    const served = new Set<string>();
    while (pending.length > 0) {
      const path = pending.pop()!;
      if (served.has(path)) continue;
      const response = await app.request(path);
      expect(response.status, path).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
      expect(response.headers.get("content-security-policy")).toBe(csp);
      served.add(path);
      for (const match of (await response.text()).matchAll(/from "(\.{1,2}\/[^"]+)"/g)) pending.push(new URL(match[1]!, `http://console${path}`).pathname);
    }
    expect(served.size).toBeGreaterThan(5);
    const style = await app.request("/console/console.css");
    expect(style.status).toBe(200);
    expect(style.headers.get("content-type")).toBe("text/css; charset=utf-8");
  });

  it("serves a page with no inline script, inline style or event handler attribute", async () => {
    const { app } = createFakes();
    const html = await (await app.request("/console")).text();

    for (const script of html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)) {
      expect(script[0]).toMatch(/ src="\/console\//);
      expect(script[1]!.trim()).toBe("");
    }
    expect(html).not.toMatch(/<style\b| style=| on[a-z]+=/i);
  });

  it("serves nothing else from its folder or outside it", async () => {
    const { app } = createFakes();
    for (const path of ["/console/tsconfig.json", "/console/index.html", "/console/Console.js", "/console/%2e%2e/app.ts", "/console/views/..%2fdapi.ts", "/console/missing.js"]) {
      expect((await app.request(path)).status, path).toBe(404);
    }
    const slash = await app.request("/console/");
    expect(slash.status).toBe(308);
    expect(slash.headers.get("location")).toBe("/console");
  });

  it("answers whoami with the caller's role, permissions and allowed operations, and writes no audit row", async () => {
    const { app, rows } = createFakes();
    const ask = async (key: string) => (await app.request("/api/v2/admin/whoami", { headers: { "x-api-key": key } })).json() as Promise<{ actorId: string; role: string; permissions: string[]; operations: string[] }>;

    const operator = await ask("operator-key-000000000000");
    const viewer = await ask("viewer-key-00000000000000");

    expect(operator).toMatchObject({ actorId: "alice", role: "operator", permissions: ["system:operate", "system:read"] });
    expect(operator.operations).toEqual(expect.arrayContaining(["restateDoctor", "restateRecoverStuckWorkflow", "replayDeadLetter", "cancelTransaction", "listAuditEntries", "whoami"]));
    expect(viewer).toMatchObject({ actorId: "victor", role: "viewer", permissions: ["system:read"] });
    expect(viewer.operations).toEqual(expect.arrayContaining(["inspectWorkflowInstance", "listDeadLetters", "inspectTransaction", "whoami"]));
    for (const write of ["restateDoctor", "restateRecoverStuckWorkflow", "replayDeadLetter", "cancelTransaction", "listAuditEntries"]) expect(viewer.operations).not.toContain(write);
    expect(rows).toEqual([]);
    expect((await app.request("/api/v2/admin/whoami")).status).toBe(401);
  });

  it("answers TRANSACTION_NOT_FOUND for a transaction id nobody stored, in one failure row", async () => {
    const { app, rows } = createFakes();
    const response = await app.request("/api/v2/admin/operator/transactions/tx_missing", { headers: { "x-api-key": "viewer-key-00000000000000" } });

    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: "TRANSACTION_NOT_FOUND" });
    expect(rows).toMatchObject([{ actorId: "victor", route: "GET /api/v2/admin/operator/transactions/:transactionId", arguments: { transactionId: "tx_missing" }, finished: { outcome: "failure", errorCode: "TRANSACTION_NOT_FOUND" } }]);
  });

  it("takes an approver's decision on a sign-only transaction and audits it", async () => {
    const { rows, post } = createFakes();
    const response = await post("/api/v2/admin/operator/transactions/tx_1/approvals", JSON.stringify({ approver: APPROVER, decision: "approve", signature: SIGNATURE }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ counted: true, transactionId: "tx_1", approver: APPROVER, decision: "approve", at: "2026-01-01T00:00:00.000Z" });
    expect(rows).toMatchObject([{ actorId: "alice", route: "POST /api/v2/admin/operator/transactions/:transactionId/approvals", finished: { outcome: "success" } }]);
  });

  it("names the field of an approval body that fails its schema", async () => {
    const { post } = createFakes();
    const response = await post("/api/v2/admin/operator/transactions/tx_1/approvals", JSON.stringify({ approver: APPROVER, decision: "maybe", signature: "0x12" }));
    expect(response.status).toBe(400);
    const body = (await response.json()) as { code: string; data: { issues: { field: string }[] } };
    expect(body.code).toBe("VALIDATION_FAILED");
    expect(body.data.issues.map((issue) => issue.field).sort()).toEqual(["decision", "signature"]);
  });

  it("answers an approval that does not count in the envelope, with the field named, in one failure row", async () => {
    const { rows, post } = createFakes();
    const outsider = "0x00000000000000000000000000000000000000ff";
    const response = await post("/api/v2/admin/operator/transactions/tx_1/approvals", JSON.stringify({ approver: outsider, decision: "approve", signature: SIGNATURE }));
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ code: "APPROVER_NOT_IN_POLICY", data: { field: "approver" } });
    expect(rows).toMatchObject([{ finished: { outcome: "failure", errorCode: "APPROVER_NOT_IN_POLICY" } }]);
  });

  it("refuses approvals from a key without system:operate", async () => {
    const { post } = createFakes();
    const response = await post("/api/v2/admin/operator/transactions/tx_1/approvals", JSON.stringify({ approver: APPROVER, decision: "approve", signature: SIGNATURE }), "viewer-key-00000000000000");
    expect(response.status).toBe(403);
  });
});
