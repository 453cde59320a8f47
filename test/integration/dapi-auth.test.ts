import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operationsAuditLog } from "../../shared/db/schema/index.ts";
import { RESTATE, startDapiHarness, type DapiHarness } from "../helpers/dapi-harness.ts";

const RECOVER = `${RESTATE}/recover-stuck-workflow`;

describe("DAPI authentication, authorization and validation", () => {
  let dapi: DapiHarness;
  beforeAll(async () => {
    dapi = await startDapiHarness();
  });
  afterAll(async () => {
    await dapi.close();
  });

  it("refuses a request without X-Api-Key as UNAUTHENTICATED and writes no audit row", async () => {
    const answer = await dapi.call("POST", `${RESTATE}/doctor`, {}, { key: null });

    expect(answer.status).toBe(401);
    expect(answer.body).toEqual({ code: "UNAUTHENTICATED", message: expect.stringContaining("missing") as unknown, data: null, requestId: answer.requestId });
    expect(await dapi.auditRowsOf(answer.requestId)).toEqual([]);
  });

  it("refuses an unknown key as UNAUTHENTICATED and writes no audit row", async () => {
    const answer = await dapi.call("POST", `${RESTATE}/doctor`, {}, { key: "ddwf_not-a-key-anyone-was-given-0000000000" });

    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ code: "UNAUTHENTICATED", message: expect.stringContaining("does not match") as unknown });
    expect(await dapi.auditRowsOf(answer.requestId)).toEqual([]);
  });

  it("refuses a key without system:operate as UNAUTHORIZED before the handler, with no audit row", async () => {
    const answer = await dapi.call("POST", `${RESTATE}/force-redeploy`, { serviceUrl: "http://127.0.0.1:9/" }, { key: dapi.keys.viewer.key });

    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ code: "UNAUTHORIZED", data: { requiredPermission: "system:operate" } });
    expect(await dapi.auditRowsOf(answer.requestId)).toEqual([]);
  });

  it("answers a body that is not JSON with BAD_REQUEST_BODY and records the failed attempt", async () => {
    const answer = await dapi.call("POST", RECOVER, undefined, { rawBody: '{"serviceName": "EngineCanary",' });

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: "BAD_REQUEST_BODY" });
    expect(await dapi.auditRowsOf(answer.requestId)).toMatchObject([
      { outcome: "failure", errorCode: "BAD_REQUEST_BODY", arguments: { body: "(not valid JSON)" }, actorRole: "operator" },
    ]);
  });

  it("rejects an unknown field with VALIDATION_FAILED naming it, and records the attempt", async () => {
    const answer = await dapi.call("POST", RECOVER, { serviceName: "EngineCanary", serviceKey: "k1", dryRun: true });

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      code: "VALIDATION_FAILED",
      message: expect.stringContaining("dryRun") as unknown,
      data: { issues: [{ field: "dryRun", code: "unrecognized_keys" }] },
    });
    expect(await dapi.auditRowsOf(answer.requestId)).toMatchObject([
      { outcome: "failure", errorCode: "VALIDATION_FAILED", arguments: { serviceName: "EngineCanary", serviceKey: "k1", dryRun: true } },
    ]);
  });

  it("rejects a serviceKey outside ^[a-zA-Z0-9_-]+$ with VALIDATION_FAILED naming serviceKey, and records the attempt", async () => {
    const answer = await dapi.call("POST", RECOVER, { serviceName: "EngineCanary", serviceKey: "k1' OR '1'='1" });

    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ code: "VALIDATION_FAILED", data: { issues: [{ field: "serviceKey", code: "invalid_format" }] } });
    expect(await dapi.auditRowsOf(answer.requestId)).toMatchObject([{ outcome: "failure", errorCode: "VALIDATION_FAILED" }]);
  });

  it("lists audit rows newest first with paging and an actor filter, for operators only", async () => {
    for (let i = 0; i < 3; i++) await dapi.call("POST", RECOVER, { serviceName: "EngineCanary" });

    const first = await dapi.call<{ items: { actorId: string; startedAt: string }[]; nextCursor: string | null }>(
      "GET",
      `/api/v2/admin/audit-log?limit=2&actorId=${dapi.keys.operator.actorId}&route=${encodeURIComponent(`POST ${RECOVER}`)}&outcome=failure`,
    );
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(2);
    expect(first.body.items.every((item) => item.actorId === dapi.keys.operator.actorId)).toBe(true);
    expect(first.body.nextCursor).not.toBeNull();
    const second = await dapi.call<{ items: { startedAt: string }[] }>(
      "GET",
      `/api/v2/admin/audit-log?limit=2&actorId=${dapi.keys.operator.actorId}&route=${encodeURIComponent(`POST ${RECOVER}`)}&cursor=${first.body.nextCursor}`,
    );
    expect(second.body.items.length).toBeGreaterThan(0);
    expect(Date.parse(second.body.items[0]!.startedAt)).toBeLessThanOrEqual(Date.parse(first.body.items[1]!.startedAt));
    const viewer = await dapi.call("GET", "/api/v2/admin/audit-log", undefined, { key: dapi.keys.viewer.key });
    expect(viewer.status).toBe(403);
  });

  it("never stores or logs an API key or a URL password", async () => {
    await dapi.call("POST", `${RESTATE}/force-redeploy`, { serviceUrl: "http://ops:hunter2-secret@127.0.0.1:9/", force: true, apiKey: dapi.keys.operator.key });

    const rows = await dapi.db.select().from(operationsAuditLog);
    const stored = JSON.stringify(rows) + dapi.logLines.join("\n");
    for (const secret of [dapi.keys.operator.key, dapi.keys.viewer.key, "ddwf_not-a-key-anyone-was-given", "hunter2-secret"]) {
      expect(stored).not.toContain(secret);
    }
    expect(stored).toContain("http://REDACTED@127.0.0.1:9/");
  });
});
