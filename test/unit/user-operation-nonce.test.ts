import { describe, expect, it } from "vitest";
import { nextUserOperationNonce, submissionGate } from "../../shared/evm/erc4337/user-operation-nonce.ts";

describe("the nonce a smart account's next user operation takes", () => {
  it("is the EntryPoint's nonce when ddwf holds none", () => {
    expect(nextUserOperationNonce(7n, [])).toBe(7n);
  });

  it("comes after the nonces open transactions hold", () => {
    expect(nextUserOperationNonce(7n, [8n, 7n, 9n])).toBe(10n);
  });

  it("fills the lowest gap a transaction that ended unsent left behind", () => {
    expect(nextUserOperationNonce(7n, [7n, 9n, 10n])).toBe(8n);
  });

  it("ignores held nonces the EntryPoint has already passed", () => {
    expect(nextUserOperationNonce(7n, [3n, 5n, 6n])).toBe(7n);
  });
});

describe("whether a signed user operation goes to the bundler now", () => {
  it("sends the nonce the EntryPoint expects next", () => {
    expect(submissionGate({ entryPointNonce: 4n, nonce: 4n })).toEqual({ kind: "send" });
  });

  it("waits behind the account's earlier nonce that is not executed yet", () => {
    expect(submissionGate({ entryPointNonce: 4n, nonce: 6n })).toEqual({ kind: "behind", waitingFor: 4n });
  });

  it("answers passed once the EntryPoint moved beyond the nonce", () => {
    expect(submissionGate({ entryPointNonce: 5n, nonce: 4n })).toEqual({ kind: "passed" });
  });
});
