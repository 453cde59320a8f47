/**
 * Counts in `dalp.ddwf.workflow.completed` (outcome `terminal_error`) a run whose input the SDK's
 * schema serde refused: the handler never starts, so no step of its own can count it. The
 * interceptor wraps the input's parsing; the refusal is terminal, so it is seen on one attempt only.
 */
import * as restate from "@restatedev/restate-sdk";
import type { HooksProvider } from "@restatedev/restate-sdk";

/** The SDK's words for an input its serde refused (a terminal 400). */
const REFUSED_INPUT = "Failed to deserialize input";

export function countRefusedInput(
  metrics: { workflowCompleted(workflowType: string, outcome: "terminal_error"): void },
  workflowType: string,
): HooksProvider {
  return () => ({
    interceptor: {
      handler: async (next) => {
        try {
          await next();
        } catch (error) {
          if (error instanceof restate.TerminalError && error.message.startsWith(REFUSED_INPUT)) metrics.workflowCompleted(workflowType, "terminal_error");
          throw error;
        }
      },
    },
  });
}
