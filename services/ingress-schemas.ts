/**
 * The handlers the platform calls through Restate ingress, with the zod schemas of their input and
 * output: the same schemas the handlers' serdes use, so what Restate publishes for each handler and
 * `docs/ingress-schemas.json` (written by `npm run schemas`) say the same thing.
 */
import type { z } from "zod";
import { jsonSchemaOf } from "../shared/restate/schema-serde.ts";
import { issuanceRequestSchema } from "./workflows/asset-issuance/request.ts";
import { issuanceStatusSchema } from "./workflows/asset-issuance/schemas.ts";
import { acceptRequestSchema, acceptResultSchema, cancelRequestSchema, cancelResultSchema, recoveryStatusSchema } from "./workflows/identity-recovery/schemas.ts";
import { submissionOutcomeSchema, transactionOperationSchema } from "./workflows/transaction-execution/operation.ts";
import { transactionStatusSchema } from "./workflows/transaction-execution/status.ts";
import { cancelTransactionRequestSchema, cancelTransactionResultSchema } from "./workflows/transaction-execution/types.ts";

export type IngressHandlerSchemas = { service: string; handler: string; input: z.ZodType | null; output: z.ZodType };

export const INGRESS_HANDLERS: readonly IngressHandlerSchemas[] = [
  { service: "TransactionExecutionWorkflow", handler: "run", input: transactionOperationSchema, output: transactionStatusSchema },
  { service: "TransactionExecutionWorkflow", handler: "submission", input: null, output: submissionOutcomeSchema.nullable() },
  { service: "TransactionExecutionWorkflow", handler: "status", input: null, output: transactionStatusSchema },
  { service: "TransactionExecutionWorkflow", handler: "cancel", input: cancelTransactionRequestSchema, output: cancelTransactionResultSchema },
  { service: "AssetIssuanceWorkflow", handler: "run", input: issuanceRequestSchema, output: issuanceStatusSchema },
  { service: "AssetIssuanceWorkflow", handler: "status", input: null, output: issuanceStatusSchema },
  { service: "IdentityRecoveryWorkflow", handler: "run", input: null, output: recoveryStatusSchema },
  { service: "IdentityRecoveryWorkflow", handler: "accept", input: acceptRequestSchema, output: acceptResultSchema },
  { service: "IdentityRecoveryWorkflow", handler: "cancel", input: cancelRequestSchema, output: cancelResultSchema },
  { service: "IdentityRecoveryWorkflow", handler: "status", input: null, output: recoveryStatusSchema },
];

/** Every handler's JSON Schemas, keyed `Service/handler`: the content of docs/ingress-schemas.json. */
export function ingressJsonSchemas(): Record<string, { input: object | null; output: object }> {
  return Object.fromEntries(
    INGRESS_HANDLERS.map((entry) => [`${entry.service}/${entry.handler}`, { input: entry.input ? jsonSchemaOf(entry.input, "input") : null, output: jsonSchemaOf(entry.output, "output") }]),
  );
}
