/** The answers of AssetIssuanceWorkflow's handlers as zod schemas (its input is `request.ts`), for Restate to publish. */
import { z } from "zod";
import { sagaOutcomeSchema } from "../../../shared/restate/saga-schema.ts";
import { ISSUANCE_STAGES, type IssuanceStatus } from "./types.ts";

const hex = z.templateLiteral(["0x", z.string()]);
const errorSchema = z.object({ code: z.string(), message: z.string() });

export const issuanceStatusSchema: z.ZodType<IssuanceStatus> = z.object({
  issuanceId: z.string(),
  stage: z.enum(ISSUANCE_STAGES),
  tokenAddress: hex.nullable(),
  complianceAddress: hex.nullable(),
  steps: z.array(
    z.object({
      step: z.string(),
      transactionId: z.string(),
      outcome: z.enum(["running", "completed", "failed"]),
      txHash: hex.nullable(),
      error: errorSchema.nullable(),
    }),
  ),
  compensation: sagaOutcomeSchema.nullable(),
  error: errorSchema.nullable(),
});
