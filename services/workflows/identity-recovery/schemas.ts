/**
 * The inputs and answers of IdentityRecoveryWorkflow's handlers as zod schemas: the handlers parse
 * their inputs with them (a bad field is a 400 that names it) and Restate publishes them.
 */
import { z } from "zod";
import { sagaOutcomeSchema } from "../../../shared/restate/saga-schema.ts";
import { RECOVERY_STAGES, type AcceptRequest, type CancelRequest, type RecoveryStatus } from "./api.ts";

const hex = z.templateLiteral(["0x", z.string()]);
const errorSchema = z.object({ code: z.string(), message: z.string() });

export const acceptRequestSchema: z.ZodType<AcceptRequest> = z
  .object({
    newWallet: z.string().regex(/^0x[0-9a-fA-F]{40}$/, "must be a 20-byte hex address").transform((value) => value as `0x${string}`),
    signature: z.string().regex(/^0x([0-9a-fA-F]{2})+$/, "must be 0x-prefixed hex bytes").transform((value) => value as `0x${string}`),
  })
  .strict();

export const cancelRequestSchema: z.ZodType<CancelRequest> = z.object({ reason: z.string().min(1).max(500) }).strict();

export const recoveryStatusSchema: z.ZodType<RecoveryStatus> = z.object({
  invitationId: z.string(),
  stage: z.enum(RECOVERY_STAGES),
  newWallet: hex.nullable(),
  steps: z.array(
    z.object({
      step: z.string(),
      transactionId: z.string().nullable(),
      outcome: z.enum(["running", "completed", "failed", "skipped"]),
      txHash: hex.nullable(),
      error: errorSchema.nullable(),
    }),
  ),
  compensation: sagaOutcomeSchema.nullable(),
  error: errorSchema.nullable(),
});

export const acceptResultSchema = z.object({ accepted: z.literal(true) });
export const cancelResultSchema = z.object({ cancelled: z.literal(true) });
