import { TerminalError } from "@restatedev/restate-sdk";
import { describe, expect, it } from "vitest";
import { createSaga } from "../../shared/restate/saga.ts";

describe("saga", () => {
  it("runs the registered compensations newest first", async () => {
    const undone: string[] = [];
    const saga = createSaga();
    for (const step of ["identity", "token-0", "token-1"]) saga.onFailure(step, async () => void undone.push(step));
    expect(await saga.compensate()).toEqual({ kind: "compensated", compensated: ["token-1", "token-0", "identity"] });
    expect(undone).toEqual(["token-1", "token-0", "identity"]);
  });

  it("stops at a compensation that fails terminally and names what is left for an operator", async () => {
    const undone: string[] = [];
    const saga = createSaga();
    saga.onFailure("identity", async () => void undone.push("identity"));
    saga.onFailure("token-0", async () => {
      throw new TerminalError("balance already spent");
    });
    saga.onFailure("token-1", async () => void undone.push("token-1"));
    expect(await saga.compensate()).toEqual({
      kind: "needs-operator",
      compensated: ["token-1"],
      failed: { step: "token-0", error: "balance already spent" },
      remaining: ["identity"],
    });
    expect(undone).toEqual(["token-1"]);
  });

  it("lets a retryable failure propagate so the step is retried, not skipped", async () => {
    const saga = createSaga();
    saga.onFailure("identity", async () => {
      throw new Error("rpc unavailable");
    });
    await expect(saga.compensate()).rejects.toThrow("rpc unavailable");
  });
});
