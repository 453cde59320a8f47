import { describe, expect, it } from "vitest";
import { z } from "zod";
import { DapiError, toErrorEnvelope } from "../../admin-api/errors.ts";
import { RestateAdminError } from "../../shared/restate/admin-client.ts";

describe("the DAPI error envelope", () => {
  it("maps RESTATE_WORKFLOW_RETRY_BLOCKED to 409 with its reason and invocation ids", () => {
    const error = new DapiError("RESTATE_WORKFLOW_RETRY_BLOCKED", "blocked", { data: { reason: "active-invocation", invocationIds: ["inv_1"] } });
    expect(toErrorEnvelope(error, "req-1")).toEqual({
      status: 409,
      body: { code: "RESTATE_WORKFLOW_RETRY_BLOCKED", message: "blocked", data: { reason: "active-invocation", invocationIds: ["inv_1"] }, requestId: "req-1" },
    });
  });

  it("keeps an explicit status for retry-blocked reasons outside the 409 class", () => {
    const error = new DapiError("RESTATE_WORKFLOW_RETRY_BLOCKED", "purge", { status: 502, data: { reason: "purge-failed", invocationIds: ["inv_2"] } });
    expect(toErrorEnvelope(error, "r").status).toBe(502);
  });

  it("maps RESTATE_DEPLOYMENT_NOT_FOUND to 404", () => {
    expect(toErrorEnvelope(new DapiError("RESTATE_DEPLOYMENT_NOT_FOUND", "none"), "r").status).toBe(404);
  });

  it("maps an unreachable admin API to 503 RESTATE_ADMIN_UNREACHABLE", () => {
    const { status, body } = toErrorEnvelope(new RestateAdminError("RESTATE_ADMIN_UNREACHABLE", "refused"), "r");
    expect(status).toBe(503);
    expect(body.code).toBe("RESTATE_ADMIN_UNREACHABLE");
  });

  it("maps an admin error answer to 502 with Restate's status and code", () => {
    const error = new RestateAdminError("RESTATE_ADMIN_REQUEST_FAILED", "answered 500", { status: 500, restateCode: "META0003" });
    expect(toErrorEnvelope(error, "r")).toMatchObject({ status: 502, body: { data: { status: 500, restateCode: "META0003" } } });
  });

  it("maps a zod error to 400 VALIDATION_FAILED naming each field, unknown keys included", () => {
    const schema = z.object({ serviceKey: z.string().regex(/^[a-z]+$/) }).strict();
    const result = schema.safeParse({ serviceKey: "A B", extra: 1 });
    const { status, body } = toErrorEnvelope(result.error, "r");
    expect(status).toBe(400);
    expect(body.code).toBe("VALIDATION_FAILED");
    expect((body.data as { issues: { field: string }[] }).issues.map((issue) => issue.field).sort()).toEqual(["extra", "serviceKey"]);
    expect(body.message).toContain("serviceKey");
  });

  it("answers an unexpected error as 500 INTERNAL_ERROR without its message", () => {
    expect(toErrorEnvelope(new Error("db password is hunter2"), "r")).toEqual({
      status: 500,
      body: { code: "INTERNAL_ERROR", message: expect.not.stringContaining("hunter2") as unknown, data: null, requestId: "r" },
    });
  });

  it("redacts URL user information in every message", () => {
    const error = new RestateAdminError("RESTATE_ADMIN_REQUEST_FAILED", "calling 'http://u:pw@h:1/' failed", { status: 500 });
    expect(toErrorEnvelope(error, "r").body.message).toBe("calling 'http://REDACTED@h:1/' failed");
  });
});
