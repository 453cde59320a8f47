/**
 * Counts a workflow run's end in `dalp.ddwf.workflow.completed` from inside a journaled step, for
 * the ends that have no step of their own to count in (a run refused before it did anything, such
 * as a missing record). The journal makes a replay skip the step, so a run is counted once.
 */
import type * as restate from "@restatedev/restate-sdk";

export type CompletionOutcome = "success" | "terminal_error";

export async function countCompletion(
  ctx: Pick<restate.Context, "run">,
  metrics: { workflowCompleted(workflowType: string, outcome: CompletionOutcome): void },
  workflowType: string,
  outcome: CompletionOutcome,
): Promise<void> {
  await ctx.run(`count-${outcome}`, async () => metrics.workflowCompleted(workflowType, outcome));
}
