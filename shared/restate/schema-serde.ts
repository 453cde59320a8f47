/**
 * The SDK's schema serde for a zod schema, advertising the JSON Schema of the side a caller sees:
 * a handler's input as it is sent (before defaults and transforms), its output as it is returned.
 * The SDK alone derives only the output side, and none at all for a schema holding a transform.
 * Restate publishes the schema with the service (admin API, `restate services describe`).
 */
import * as restate from "@restatedev/restate-sdk";
import { z } from "zod";

export function jsonSchemaOf(schema: z.ZodType, io: "input" | "output"): object {
  return z.toJSONSchema(schema, { io, target: "draft-2020-12", unrepresentable: "any" });
}

export function schemaSerde<T extends z.ZodType>(schema: T, io: "input" | "output"): restate.Serde<z.output<T>> {
  const serde = restate.serde.schema(schema) as restate.Serde<z.output<T>> & { jsonSchema?: object };
  serde.jsonSchema = jsonSchemaOf(schema, io);
  return serde;
}
