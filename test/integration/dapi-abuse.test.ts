/**
 * The operator API fed garbage by an authenticated operator: every attempt that gets past
 * authorization ends with exactly one finished audit row and a 4xx naming what was wrong, never a
 * 500; nothing a credential could hide in reaches a row or a log line in clear.
 */
import { connect } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveDapi } from "../../admin-api/dapi.ts";
import { operationsAuditLog } from "../../shared/db/schema/index.ts";
import { RESTATE, startDapiHarness, type DapiHarness } from "../helpers/dapi-harness.ts";

const RECOVER = `${RESTATE}/recover-stuck-workflow`;
const REDEPLOY = `${RESTATE}/force-redeploy`;
const AUDIT_LOG = "/api/v2/admin/audit-log";

type Envelope = { code: string; message: string; data: { issues?: { field: string }[] } | null; requestId: string };

describe("the operator API under abuse", () => {
  let dapi: DapiHarness;
  beforeAll(async () => {
    dapi = await startDapiHarness();
  });
  afterAll(async () => {
    await dapi.close();
  });

  /** Sends exactly these bytes and headers (the operator key unless told otherwise). */
  const send = async (method: string, path: string, options?: { body?: string | Uint8Array; headers?: Record<string, string> }) => {
    const response = await dapi.app.request(path, {
      method,
      headers: { "content-type": "application/json", "x-api-key": dapi.keys.operator.key, ...options?.headers },
      ...(options?.body === undefined ? {} : { body: options.body }),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, body: (text ? JSON.parse(text) : null) as Envelope | null };
  };

  /** Exactly one row for the request, finished, with an outcome and an error code. */
  const expectOneFinishedFailure = async (requestId: string | null | undefined, errorCode: string) => {
    const rows = await dapi.auditRowsOf(requestId ?? null);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: "failure", errorCode });
    expect(rows[0]?.finishedAt).toBeInstanceOf(Date);
    return rows[0]!;
  };

  const fields = (body: Envelope | null) => (body?.data?.issues ?? []).map((issue) => issue.field);

  describe("characters PostgreSQL cannot store", () => {
    it("refuses a NUL in a value with 400 naming the field, and finishes its row", async () => {
      const answer = await send("POST", RECOVER, { body: JSON.stringify({ serviceName: "EngineCanary", serviceKey: "a\u0000b" }) });

      expect(answer.status).toBe(400);
      expect(fields(answer.body)).toEqual(["serviceKey"]);
      await expectOneFinishedFailure(answer.body?.requestId, "VALIDATION_FAILED");
    });

    it("refuses a NUL in a field name with 400 naming that field, and finishes its row", async () => {
      const answer = await send("POST", RECOVER, { body: JSON.stringify({ serviceName: "EngineCanary", serviceKey: "k", "dry\u0000Run": true }) });

      expect(answer.status).toBe(400);
      expect(answer.body?.code).toBe("VALIDATION_FAILED");
      expect(fields(answer.body)).toHaveLength(1);
      await expectOneFinishedFailure(answer.body?.requestId, "VALIDATION_FAILED");
    });

    it("refuses a lone surrogate in a value and in a field name, finishing each row", async () => {
      for (const body of ['{"serviceName":"EngineCanary","serviceKey":"\\ud800"}', '{"serviceName":"EngineCanary","serviceKey":"k","\\udc00":1}']) {
        const answer = await send("POST", RECOVER, { body });

        expect(answer.status).toBe(400);
        await expectOneFinishedFailure(answer.body?.requestId, "VALIDATION_FAILED");
      }
    });

    it("refuses a NUL in a path parameter naming it, and finishes its row", async () => {
      const answer = await send("GET", "/api/v2/admin/operator/workflows/EngineCanary/a%00b");

      expect(answer.status).toBe(400);
      expect(fields(answer.body)).toEqual(["serviceKey"]);
      await expectOneFinishedFailure(answer.body?.requestId, "VALIDATION_FAILED");
    });

    it("refuses a NUL in a query value naming it, and finishes its row", async () => {
      const answer = await send("GET", "/api/v2/admin/operator/dead-letters?kind=transaction%00");

      expect(answer.status).toBe(400);
      expect(fields(answer.body)).toEqual(["kind"]);
      await expectOneFinishedFailure(answer.body?.requestId, "VALIDATION_FAILED");
    });

    it("stores an X-Operator-Reason and a row even when an unknown field's name is made of control characters", async () => {
      const answer = await send("POST", RECOVER, {
        body: JSON.stringify({ serviceName: "EngineCanary", serviceKey: "k", "\u0001\u0000": "\u0000" }),
        headers: { "x-operator-reason": "incident 42" },
      });

      expect(answer.status).toBe(400);
      const row = await expectOneFinishedFailure(answer.body?.requestId, "VALIDATION_FAILED");
      expect(row.reason).toBe("incident 42");
    });
  });

  describe("bodies", () => {
    it("refuses JSON nested thousands of levels deep with 400, and finishes its row", async () => {
      const depth = 30_000;
      const answer = await send("POST", RECOVER, { body: `${"[".repeat(depth)}${"]".repeat(depth)}` });

      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ code: "BAD_REQUEST_BODY", message: expect.stringContaining("deep") as unknown });
      await expectOneFinishedFailure(answer.body?.requestId, "BAD_REQUEST_BODY");
    });

    it("refuses a non-JSON body holding a NUL byte with 400, and finishes its row", async () => {
      const answer = await send("POST", RECOVER, { body: "not json \u0000 at all" });

      expect(answer.status).toBe(400);
      expect(answer.body?.code).toBe("BAD_REQUEST_BODY");
      await expectOneFinishedFailure(answer.body?.requestId, "BAD_REQUEST_BODY");
    });

    it("refuses a gzip-encoded body with 415 naming Content-Encoding, and finishes its row", async () => {
      const answer = await send("POST", RECOVER, {
        body: gzipSync(JSON.stringify({ serviceName: "EngineCanary", serviceKey: "k" })),
        headers: { "content-encoding": "gzip" },
      });

      expect(answer.status).toBe(415);
      expect(answer.body).toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE", message: expect.stringContaining("Content-Encoding") as unknown });
      await expectOneFinishedFailure(answer.body?.requestId, "UNSUPPORTED_MEDIA_TYPE");
    });

    it("refuses a 10 MB body with 413 and stores none of it", async () => {
      const answer = await send("POST", RECOVER, { body: JSON.stringify({ serviceName: "EngineCanary", serviceKey: "x".repeat(10 * 1024 * 1024) }) });

      expect(answer.status).toBe(413);
      expect(answer.body?.code).toBe("PAYLOAD_TOO_LARGE");
      const row = await expectOneFinishedFailure(answer.body?.requestId, "PAYLOAD_TOO_LARGE");
      expect(JSON.stringify(row).length).toBeLessThan(5_000);
    });

    it("stores only what the handler reads: query values sent to a body route are not in the row", async () => {
      const answer = await send("POST", `${RECOVER}?serviceKey=from-the-query&extra=1`, { body: JSON.stringify({ serviceName: "EngineCanary", serviceKey: "bad key" }) });

      expect(answer.status).toBe(400);
      const row = await expectOneFinishedFailure(answer.body?.requestId, "VALIDATION_FAILED");
      expect(row.arguments).toEqual({ serviceName: "EngineCanary", serviceKey: "bad key" });
    });

    it("keeps a __proto__ field in the row and names it as unknown", async () => {
      const answer = await send("POST", RECOVER, { body: '{"serviceName":"EngineCanary","serviceKey":"k","__proto__":{"admin":true}}' });

      expect(answer.status).toBe(400);
      expect(fields(answer.body)).toEqual(["__proto__"]);
      const row = await expectOneFinishedFailure(answer.body?.requestId, "VALIDATION_FAILED");
      expect(Object.keys(row.arguments)).toContain("__proto__");
    });
  });

  describe("credentials", () => {
    const SPELLINGS = [
      "http://us'er:pa'ss-SECRET1@127.0.0.1:9/",
      'http://user:"SECRET2"@127.0.0.1:9/',
      "http://user:pw<SECRET3@127.0.0.1:9/",
      "http://user:pw SECRET4@127.0.0.1:9/",
      "http://user:pw\tSECRET5@127.0.0.1:9/",
      "http://user:pw\nSECRET6@127.0.0.1:9/",
      "http:///user:SECRET7@127.0.0.1:9/",
      "http:/user:SECRET8@127.0.0.1:9/",
      "http:user:SECRET9@127.0.0.1:9/",
      "http:\\\\user:SECRET10@127.0.0.1:9/",
    ];

    it("refuses user information in serviceUrl with 400 saying so, and keeps every spelling's password out of rows, answers and logs", async () => {
      for (const serviceUrl of SPELLINGS) {
        const answer = await send("POST", REDEPLOY, { body: JSON.stringify({ serviceUrl }) });

        expect(answer.status, serviceUrl).toBe(400);
        expect(fields(answer.body)).toEqual(["serviceUrl"]);
        await expectOneFinishedFailure(answer.body?.requestId, "VALIDATION_FAILED");
      }
      const credentialed = await send("POST", REDEPLOY, { body: JSON.stringify({ serviceUrl: "http://ops:pw@127.0.0.1:9/" }) });
      expect(credentialed.body?.message).toContain("credentials");
      const stored = JSON.stringify(await dapi.db.select().from(operationsAuditLog)) + dapi.logLines.join("\n");
      for (let i = 1; i <= SPELLINGS.length; i++) expect(stored).not.toContain(`SECRET${i}`);
    });

    it("redacts a credential URL in X-Operator-Reason however it is spelled", async () => {
      const answer = await send("POST", RECOVER, {
        body: JSON.stringify({ serviceName: "EngineCanary", serviceKey: "bad key" }),
        headers: { "x-operator-reason": "moving off http:/ops:REASON-SECRET@old-worker:9080 and http://a:'REASON-TWO'@h" },
      });

      const row = await expectOneFinishedFailure(answer.body?.requestId, "VALIDATION_FAILED");
      expect(row.reason).not.toContain("REASON-SECRET");
      expect(row.reason).not.toContain("REASON-TWO");
      expect(row.reason).toContain("REDACTED@old-worker:9080");
    });

    it("masks the authenticating key sent by mistake under a generic field name", async () => {
      const answer = await send("POST", RECOVER, { body: JSON.stringify({ serviceName: "EngineCanary", serviceKey: "k", key: dapi.keys.operator.key }) });

      expect(answer.status).toBe(400);
      const row = await expectOneFinishedFailure(answer.body?.requestId, "VALIDATION_FAILED");
      expect(row.arguments).toMatchObject({ key: "REDACTED" });
      expect(JSON.stringify(row) + dapi.logLines.join("\n")).not.toContain(dapi.keys.operator.key);
    });
  });

  describe("bad input is refused before Restate is called", () => {
    it("refuses a 20,000-character serviceName and serviceKey with 400 naming both", async () => {
      const answer = await send("POST", RECOVER, { body: JSON.stringify({ serviceName: "A".repeat(20_000), serviceKey: "k".repeat(20_000) }) });

      expect(answer.status).toBe(400);
      expect(fields(answer.body).sort()).toEqual(["serviceKey", "serviceName"]);
      await expectOneFinishedFailure(answer.body?.requestId, "VALIDATION_FAILED");
    });

    it("refuses a 100,000-character serviceName as a body too large, before reading it further", async () => {
      const answer = await send("POST", RECOVER, { body: JSON.stringify({ serviceName: "A".repeat(100_000), serviceKey: "k" }) });

      expect(answer.status).toBe(413);
      await expectOneFinishedFailure(answer.body?.requestId, "PAYLOAD_TOO_LARGE");
    });

    it("refuses service URLs Restate would refuse: quotes, a unicode host, an empty authority", async () => {
      for (const serviceUrl of ['http://"worker"/', "http://wörker.example:9080/", "http:///x", "http://worker:9080/a b", "http://[::1"]) {
        const answer = await send("POST", REDEPLOY, { body: JSON.stringify({ serviceUrl }) });

        expect(answer.status, serviceUrl).toBe(400);
        expect(fields(answer.body)).toEqual(["serviceUrl"]);
      }
    });

    it("answers a malformed audit-log cursor with 400 in the envelope, with a request id", async () => {
      const answer = await send("GET", `${AUDIT_LOG}?cursor=not-a-cursor`);

      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ code: "VALIDATION_FAILED", requestId: answer.headers.get("x-request-id") });
      expect(fields(answer.body)).toEqual(["cursor"]);
    });

    it("answers an out-of-range date or a NUL in an audit-log filter with 400 naming it", async () => {
      const cases: [string, string][] = [
        ["from=0000-01-01T00:00:00Z", "from"],
        ["to=275760-09-13T00:00:00Z", "to"],
        [`cursor=${Buffer.from(JSON.stringify({ startedAt: "0000-01-01T00:00:00.000Z", id: crypto.randomUUID() })).toString("base64url")}`, "cursor"],
        [`cursor=${Buffer.from(JSON.stringify({ startedAt: "+275760-09-13T00:00:00.000Z", id: crypto.randomUUID() })).toString("base64url")}`, "cursor"],
        ["actorId=a%00b", "actorId"],
        ["route=%00", "route"],
      ];
      for (const [query, field] of cases) {
        const answer = await send("GET", `${AUDIT_LOG}?${query}`);

        expect(answer.status, query).toBe(400);
        expect(fields(answer.body), query).toEqual([field]);
      }
    });

    it("tells the operator when a service and key have no invocation at all, instead of acknowledging", async () => {
      const answer = await send("POST", RECOVER, { body: JSON.stringify({ serviceName: "EngineCanary", serviceKey: `never-${crypto.randomUUID()}` }) });

      expect(answer.status).toBe(404);
      expect(answer.body).toMatchObject({ code: "RESTATE_WORKFLOW_NOT_FOUND", message: expect.stringContaining("no invocation") as unknown });
      await expectOneFinishedFailure(answer.body?.requestId, "RESTATE_WORKFLOW_NOT_FOUND");
    });
  });

  describe("the envelope everywhere", () => {
    it("answers a wrong method with 405 and Allow", async () => {
      const answer = await send("GET", `${RESTATE}/doctor`);

      expect(answer.status).toBe(405);
      expect(answer.headers.get("allow")).toBe("POST");
      expect(answer.body).toMatchObject({ code: "METHOD_NOT_ALLOWED", requestId: answer.headers.get("x-request-id") });
    });

    it("sends Cache-Control: no-store and X-Content-Type-Options: nosniff on answers and refusals", async () => {
      for (const answer of [await send("GET", "/health/live"), await send("POST", `${RESTATE}/doctor`, { headers: { "x-api-key": "nope-nope-nope-nope" } })]) {
        expect(answer.headers.get("cache-control")).toBe("no-store");
        expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
      }
    });

    describe("below the application", () => {
      let server: Awaited<ReturnType<typeof serveDapi>>;
      beforeAll(async () => {
        server = await serveDapi(dapi.app, { port: 0, host: "127.0.0.1", logger: { error: () => {}, warn: () => {}, info: () => {}, debug: () => {}, child: () => undefined as never } });
      });
      afterAll(async () => {
        await server.close();
      });

      const raw = (bytes: string) =>
        new Promise<string>((resolve, reject) => {
          const socket = connect(server.port, "127.0.0.1", () => socket.end(bytes));
          let answer = "";
          socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
          socket.on("end", () => resolve(answer));
          socket.on("error", reject);
        });
      const envelopeOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as Envelope;

      it("answers oversized headers with 431 in the envelope, with a request id", async () => {
        const answer = await raw(`GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`);

        expect(answer).toMatch(/^HTTP\/1\.1 431 /);
        const envelope = envelopeOf(answer);
        expect(envelope).toMatchObject({ code: "REQUEST_HEADERS_TOO_LARGE" });
        expect(answer).toContain(`x-request-id: ${envelope.requestId}`);
      });

      it("answers malformed HTTP with 400 in the envelope", async () => {
        const answer = await raw("GARBAGE\u0001 / HTTP/9\r\n\r\n");

        expect(answer).toMatch(/^HTTP\/1\.1 400 /);
        expect(envelopeOf(answer)).toMatchObject({ code: "MALFORMED_REQUEST" });
      });
    });
  });
});
