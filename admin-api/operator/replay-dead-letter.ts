/**
 * Replays a dead letter. Its reference is the key of the workflow that gave up (a transaction id
 * for TransactionExecutionWorkflow, a delivery id for WebhookDeliveryWorkflow):
 * 1. recover the key exactly as recover-stuck-workflow does (refused while it is active or succeeded);
 * 2. resubmit through the kind's replay (stored operation or delivery), so the workflow starts blank;
 * 3. mark the letter replayed — only after the resubmission, so a failed replay leaves it open.
 */
import { z } from "zod";
import type { Logger } from "../../shared/logger.ts";
import type { RestateAdminClient } from "../../shared/restate/admin-client.ts";
import type { DeadLetterReplays } from "../context.ts";
import { DapiError } from "../errors.ts";
import type { DeadLetterStore } from "../stores.ts";
import { recoverStuckWorkflow } from "./recover-stuck-workflow.ts";

export const replayDeadLetterParams = z.object({
  id: z
    .string()
    .min(1)
    .max(300)
    .regex(/^[A-Za-z0-9._:-]+$/, "must be a dead letter id (letters, digits, . _ : -)")
    .describe("Dead letter id"),
});
export const replayDeadLetterRequest = z.object({}).strict().describe("An empty object");
export const replayDeadLetterResponse = z.object({
  acknowledged: z.literal(true),
  deadLetterId: z.string(),
  invocationId: z.string().describe("Invocation of the resubmitted workflow"),
});

export type ReplayDeadLetterParameters = {
  id: string;
  deadLetters: DeadLetterStore;
  admin: RestateAdminClient;
  replays: DeadLetterReplays;
  logger: Logger;
};

export async function replayDeadLetter(parameters: ReplayDeadLetterParameters): Promise<z.infer<typeof replayDeadLetterResponse>> {
  const { id, deadLetters, logger } = parameters;
  const letter = await deadLetters.get(id);
  if (!letter) throw new DapiError("DEAD_LETTER_NOT_FOUND", `no dead letter ${id}`);
  if (letter.status !== "open") {
    throw new DapiError("DEAD_LETTER_NOT_OPEN", `dead letter ${id} is ${letter.status}; only open dead letters are replayed`, { data: { status: letter.status } });
  }
  const replay = parameters.replays[letter.kind];
  if (!replay) {
    throw new DapiError("DEAD_LETTER_KIND_UNSUPPORTED", `dead letters of kind ${letter.kind} have no replay yet`, { data: { kind: letter.kind } });
  }
  await recoverStuckWorkflow({ admin: parameters.admin, serviceName: replay.serviceName, serviceKey: letter.referenceId, logger });
  const { invocationId } = await replay.resubmit(letter.referenceId);
  const marked = await deadLetters.markReplayed(id, new Date());
  if (!marked) logger.warn("dead letter changed status during its replay", { deadLetterId: id });
  logger.info("dead letter replayed", { deadLetterId: id, kind: letter.kind, referenceId: letter.referenceId, invocationId });
  return { acknowledged: true, deadLetterId: id, invocationId };
}
