import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { INGRESS_SCHEMAS_FILE, ingressSchemasDocument } from "../../infra/schemas/write-ingress-schemas.ts";
import { transactionOperationSchema } from "../../services/workflows/transaction-execution/operation.ts";
import { jsonSchemaOf } from "../../shared/restate/schema-serde.ts";

describe("published ingress schemas", () => {
  it("are current: docs/ingress-schemas.json is what `npm run schemas` writes today", async () => {
    expect(await readFile(INGRESS_SCHEMAS_FILE, "utf8")).toBe(ingressSchemasDocument());
  });

  it("describe the run's input as a caller sends it: defaults optional, addresses in either case", () => {
    const input = jsonSchemaOf(transactionOperationSchema, "input") as { required: string[]; properties: Record<string, { pattern?: string }> };
    expect(input.required.sort()).toEqual(["chainId", "executor", "organizationId", "signerAddress", "target"]);
    expect(input.properties.signerAddress?.pattern).toBe("^0x[0-9a-fA-F]{40}$");
  });
});
