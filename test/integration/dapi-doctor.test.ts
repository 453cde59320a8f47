import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../../infra/local/free-port.ts";
import { sameDeploymentUri } from "../../shared/restate/admin-client.ts";
import { createWorkerProcess, workerEnvironment, type WorkerProcess } from "../helpers/worker-process.ts";
import { RESTATE, startDapiHarness, type DapiHarness } from "../helpers/dapi-harness.ts";

type Report = {
  ingress: { status: string; latencyMs: number | null; error: string | null };
  admin: { status: string; latencyMs: number | null; version: string | null; error: string | null };
  deployments: { status: string; items: { id: string; serviceUrl: string; createdAt: string | null }[]; error: string | null };
  services: { status: string; items: { name: string; revision?: number }[]; error: string | null };
  invocations: { status: string; byStatus: Record<string, number>; recentFailures: unknown[]; error: string | null };
};

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe("doctor", () => {
  let worker: WorkerProcess;
  let dapi: DapiHarness;
  beforeAll(async () => {
    const stack = inject("stack");
    worker = createWorkerProcess(stack, await workerEnvironment(stack, inject("databaseUrl")), "dapi-doctor-worker");
    await worker.start();
    dapi = await startDapiHarness();
  });
  afterAll(async () => {
    await dapi.close();
    await worker.stop();
  });

  it("reports every component ok on a healthy stack, with the worker's deployment and services", async () => {
    const answer = await dapi.call<Report>("POST", `${RESTATE}/doctor`, {});

    expect(answer.status).toBe(200);
    const report = answer.body;
    expect([report.ingress.status, report.admin.status, report.deployments.status, report.services.status, report.invocations.status]).toEqual([
      "ok",
      "ok",
      "ok",
      "ok",
      "ok",
    ]);
    expect(report.admin.version).toMatch(/^1\.7\./);
    expect(report.ingress.latencyMs).toBeGreaterThanOrEqual(0);
    expect(report.admin.latencyMs).toBeGreaterThanOrEqual(0);
    const deployment = report.deployments.items.find((item) => sameDeploymentUri(item.serviceUrl, worker.endpointUrl));
    expect(deployment?.createdAt).toMatch(ISO_UTC);
    expect(report.services.items.map((service) => service.name)).toEqual(
      expect.arrayContaining(["EngineCanary", "TransactionExecutionWorkflow", "TransactionProcessor"]),
    );
    expect(report.services.items.every((service) => typeof service.revision === "number")).toBe(true);
    expect(report.invocations.recentFailures.length).toBeLessThanOrEqual(20);
  });

  it("marks admin, deployments, services and invocations unreachable when the admin port is closed, and still answers", async () => {
    const closed = await startDapiHarness({ restate: { adminUrl: `http://127.0.0.1:${await freePort()}` }, probeTimeoutMs: 2_000 });
    try {
      const answer = await closed.call<Report>("POST", `${RESTATE}/doctor`, {});

      expect(answer.status).toBe(200);
      const report = answer.body;
      expect(report.ingress).toMatchObject({ status: "ok", error: null });
      for (const component of [report.admin, report.deployments, report.services, report.invocations]) {
        expect(component.status).toBe("unreachable");
        expect(component.error).toMatch(/unreachable|ECONNREFUSED/);
      }
      expect(report.admin).toMatchObject({ latencyMs: null, version: null });
      expect(await closed.auditRowsOf(answer.requestId)).toMatchObject([{ outcome: "success", route: `POST ${RESTATE}/doctor` }]);
    } finally {
      await closed.close();
    }
  });

  it("fails with RESTATE_ADMIN_UNREACHABLE when the admin host cannot be resolved", async () => {
    const unresolvable = await startDapiHarness({ restate: { adminUrl: "http://restate-admin.invalid:9070" } });
    try {
      const answer = await unresolvable.call("POST", `${RESTATE}/doctor`, {});

      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ code: "RESTATE_ADMIN_UNREACHABLE", data: null, requestId: answer.requestId });
      expect(answer.body.message).toContain("restate-admin.invalid");
      expect(await unresolvable.auditRowsOf(answer.requestId)).toMatchObject([
        { outcome: "failure", errorCode: "RESTATE_ADMIN_UNREACHABLE", route: `POST ${RESTATE}/doctor` },
      ]);
    } finally {
      await unresolvable.close();
    }
  });

  it("writes one audit row for a healthy doctor call, finished with outcome success", async () => {
    const answer = await dapi.call("POST", `${RESTATE}/doctor`, {}, { headers: { "x-operator-reason": "incident 42: checking the engine" } });

    const rows = await dapi.auditRowsOf(answer.requestId);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actorId: expect.stringMatching(/^test-operator-/),
      actorRole: "operator",
      route: `POST ${RESTATE}/doctor`,
      arguments: {},
      reason: "incident 42: checking the engine",
      outcome: "success",
      errorCode: null,
    });
    expect(rows[0]!.finishedAt!.getTime()).toBeGreaterThanOrEqual(rows[0]!.startedAt.getTime());
  });
});
