/** The JSON shape of a saga's outcome, for the handlers whose answers carry one. */
import { z } from "zod";
import type { SagaOutcome } from "./saga.ts";

export const sagaOutcomeSchema: z.ZodType<SagaOutcome> = z.union([
  z.object({ kind: z.literal("compensated"), compensated: z.array(z.string()) }),
  z.object({
    kind: z.literal("needs-operator"),
    compensated: z.array(z.string()),
    failed: z.object({ step: z.string(), error: z.string() }),
    remaining: z.array(z.string()),
  }),
]);
