/**
 * One description per DAPI route: method, path, permission, audit, and the zod schemas of its input
 * and answer. Routes validate with these schemas and `document.ts` turns the same objects into the
 * OpenAPI document, so the two cannot drift apart.
 */
import type { z } from "zod";
import type { Permission } from "../auth/permissions.ts";
import type { DapiErrorCode } from "../errors.ts";

export type Operation = {
  operationId: string;
  method: "get" | "post" | "patch" | "delete";
  /** Full path in Hono syntax (`:id` for parameters). */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  /** null: public (the OpenAPI document itself). */
  permission: Permission | null;
  /** Whether each attempt that gets past authorization writes an operations audit row. */
  audited: boolean;
  body?: z.ZodType;
  params?: z.ZodObject;
  query?: z.ZodObject;
  response: z.ZodType;
  /** Status of a successful answer; 200 unless the route creates something (201). */
  successStatus?: 200 | 201;
  /** Codes the route answers besides authentication, validation and internal errors. */
  errors: DapiErrorCode[];
};

export function defineOperation<const O extends Operation>(operation: O): O {
  return operation;
}

/** `/dead-letters/:id/replay` → `/dead-letters/{id}/replay`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}
