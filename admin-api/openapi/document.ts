/** Builds the DAPI's OpenAPI 3.1 document from the route operations and their zod schemas. */
import { z } from "zod";
import { DAPI_ERROR_STATUS, errorEnvelopeSchema, RETRY_AFTER_CODES, type DapiErrorCode } from "../errors.ts";
import { openApiPath, type Operation } from "./operation.ts";

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const converted = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  delete converted.$schema;
  return converted;
}

function parameters(schema: z.ZodObject | undefined, location: "path" | "query") {
  if (!schema) return [];
  const converted = jsonSchema(schema, "input") as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(converted.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === "path" || (converted.required ?? []).includes(name),
    ...(typeof property.description === "string" ? { description: property.description } : {}),
    schema: property,
  }));
}

function errorResponses(operation: Operation) {
  const codes = new Set<DapiErrorCode>(["INTERNAL_ERROR", ...operation.errors]);
  if (operation.permission) {
    codes.add("UNAUTHENTICATED");
    codes.add("UNAUTHORIZED");
    codes.add("DAPI_NOT_READY");
  }
  if (operation.body) codes.add("BAD_REQUEST_BODY");
  if (operation.body || operation.params || operation.query) codes.add("VALIDATION_FAILED");
  const byStatus = new Map<number, DapiErrorCode[]>();
  for (const code of codes) {
    const statuses: number[] = code === "RESTATE_WORKFLOW_RETRY_BLOCKED" ? [409, 502] : [DAPI_ERROR_STATUS[code]];
    for (const status of statuses) byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, list]) => {
        const retryAfter = list.filter((code) => RETRY_AFTER_CODES.includes(code));
        return [
          String(status),
          {
            description: list.join(", "),
            ...(retryAfter.length > 0
              ? {
                  headers: {
                    "Retry-After": {
                      description: `Seconds to wait before asking again; sent with ${retryAfter.join(", ")}`,
                      schema: { type: "integer", minimum: 1 },
                    },
                  },
                }
              : {}),
            content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorEnvelope" } } },
          },
        ];
      }),
  );
}

export function buildOpenApiDocument(operations: readonly Operation[], info: { version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of operations) {
    const item = (paths[openApiPath(operation.path)] ??= {});
    item[operation.method] = {
      operationId: operation.operationId,
      tags: [operation.tag],
      summary: operation.summary,
      ...(operation.description ? { description: operation.description } : {}),
      ...(operation.permission ? { security: [{ apiKey: [] }], "x-permission": operation.permission } : { security: [] }),
      "x-audited": operation.audited,
      parameters: [...parameters(operation.params, "path"), ...parameters(operation.query, "query")],
      ...(operation.body
        ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(operation.body, "input") } } } }
        : {}),
      responses: {
        [String(operation.successStatus ?? 200)]: { description: "Success", content: { "application/json": { schema: jsonSchema(operation.response, "output") } } },
        ...errorResponses(operation),
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "ddwf operator API (DAPI)",
      version: info.version,
      description:
        "Operator routes that inspect and repair the Restate engine behind ddwf. Every response carries X-Request-Id; every failure is an ErrorEnvelope.",
    },
    servers: [{ url: "/" }],
    paths,
    components: {
      securitySchemes: { apiKey: { type: "apiKey", in: "header", name: "X-Api-Key" } },
      schemas: { ErrorEnvelope: jsonSchema(errorEnvelopeSchema, "output") },
    },
  };
}
