/** `npm run schemas`: writes docs/ingress-schemas.json from the handlers' zod schemas. */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { ingressJsonSchemas } from "../../services/ingress-schemas.ts";

export const INGRESS_SCHEMAS_FILE = resolve(import.meta.dirname, "../../docs/ingress-schemas.json");

export function ingressSchemasDocument(): string {
  return `${JSON.stringify(ingressJsonSchemas(), null, 2)}\n`;
}

if (import.meta.main) {
  await writeFile(INGRESS_SCHEMAS_FILE, ingressSchemasDocument());
  console.log(`wrote ${INGRESS_SCHEMAS_FILE}`);
}
