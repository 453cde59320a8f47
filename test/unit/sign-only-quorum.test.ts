import { describe, expect, it } from "vitest";
import { cancelledApproval, expiryOf, quorumOutcome, type QuorumWait } from "../../services/workflows/transaction-execution/sign-only-state.ts";

const [a, b, c] = ["0x00000000000000000000000000000000000000a1", "0x00000000000000000000000000000000000000b2", "0x00000000000000000000000000000000000000c3"];
const requestedAt = "2026-01-01T00:00:00.000Z";
const expiresAt = "2026-01-01T01:00:00.000Z";
const before = Date.parse("2026-01-01T00:30:00.000Z");

const wait = (decisions: QuorumWait["decisions"], now = before): QuorumWait => ({ policy: { approvers: [a!, b!, c!], threshold: 2 }, decisions, requestedAt, expiresAt, now });
const approve = (approver: string, at: string) => ({ approver, decision: "approve" as const, at });

describe("the sign-only quorum", () => {
  it("waits for every approver while none has decided", () => {
    const outcome = quorumOutcome(wait([]));
    expect(outcome).toMatchObject({ kind: "waiting", pending: [a, b, c], approval: { route: "sign-only", state: "pending", decidedAt: null, expiresAt, quorum: { needed: 2, given: [] } } });
  });

  it("keeps waiting after one approval of two, and shows who approved", () => {
    const outcome = quorumOutcome(wait([approve(b!, "2026-01-01T00:01:00.000Z")]));
    expect(outcome.kind).toBe("waiting");
    expect(outcome.approval.quorum?.given).toEqual([{ approver: b, at: "2026-01-01T00:01:00.000Z" }]);
    expect(outcome.kind === "waiting" && outcome.pending).toEqual([a, c]);
  });

  it("is approved by the M-th approval, decided when it came", () => {
    const outcome = quorumOutcome(wait([approve(a!, "2026-01-01T00:01:00.000Z"), approve(c!, "2026-01-01T00:02:00.000Z")]));
    expect(outcome).toMatchObject({ kind: "approved", approval: { state: "approved", decidedAt: "2026-01-01T00:02:00.000Z" } });
  });

  it("is rejected by one rejection, even after an approval", () => {
    const outcome = quorumOutcome(wait([approve(a!, "2026-01-01T00:01:00.000Z"), { approver: c!, decision: "reject", at: "2026-01-01T00:03:00.000Z" }]));
    expect(outcome).toMatchObject({ kind: "rejected", by: c, approval: { state: "rejected", decidedAt: "2026-01-01T00:03:00.000Z", quorum: { rejectedBy: { approver: c } } } });
  });

  it("expires at the policy's expiry without the approvals needed", () => {
    const outcome = quorumOutcome(wait([approve(a!, "2026-01-01T00:01:00.000Z")], Date.parse(expiresAt)));
    expect(outcome).toMatchObject({ kind: "expired", approval: { state: "expired", decidedAt: expiresAt } });
  });

  it("counts nobody outside the policy", () => {
    const outcome = quorumOutcome(wait([approve("0x00000000000000000000000000000000000000ff", "2026-01-01T00:01:00.000Z"), approve(a!, "2026-01-01T00:02:00.000Z")]));
    expect(outcome.kind).toBe("waiting");
    expect(outcome.approval.quorum?.given.map((given) => given.approver)).toEqual([a]);
  });

  it("puts the expiry the policy's duration after the wait began", () => {
    expect(expiryOf(requestedAt, 3_600_000)).toBe(expiresAt);
  });

  it("marks a pending approval cancelled, and leaves a decided one alone", () => {
    const pending = quorumOutcome(wait([])).approval;
    expect(cancelledApproval(pending, "2026-01-01T00:10:00.000Z")).toMatchObject({ state: "cancelled", decidedAt: "2026-01-01T00:10:00.000Z" });
    const approved = quorumOutcome(wait([approve(a!, "2026-01-01T00:01:00.000Z"), approve(b!, "2026-01-01T00:02:00.000Z")])).approval;
    expect(cancelledApproval(approved, "2026-01-01T00:10:00.000Z")).toBeUndefined();
  });
});
