/** The OpenAPI document, built once from the operations of every route group. Public: it holds no data. */
import { Hono } from "hono";
import type { DapiEnv } from "../context.ts";
import { buildOpenApiDocument } from "../openapi/document.ts";
import { defineOperation, type Operation } from "../openapi/operation.ts";
import { z } from "zod";

export const OPENAPI_PATH = "/api/v2/admin/openapi.json";

export const openApiOperation = defineOperation({
  operationId: "openApiDocument",
  method: "get",
  path: OPENAPI_PATH,
  tag: "meta",
  summary: "This document",
  permission: null,
  audited: false,
  response: z.record(z.string(), z.unknown()),
  errors: [],
});

export function createOpenApiRoutes(operations: readonly Operation[], version: string): Hono<DapiEnv> {
  const routes = new Hono<DapiEnv>();
  let document: ReturnType<typeof buildOpenApiDocument> | undefined;
  routes.get(OPENAPI_PATH, (c) => c.json((document ??= buildOpenApiDocument([...operations, openApiOperation], { version }))));
  return routes;
}
