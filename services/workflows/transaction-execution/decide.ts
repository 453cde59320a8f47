/**
 * What a transaction's workflow does next, as pure functions of what it knows (its signatures, its
 * phase, whether a cancellation was asked for) and what it just observed on chain. The workflow runs
 * the answer; the unit tests cover every branch.
 */
import type { Hex } from "viem";
import type { FeeFields, Signature } from "../../transaction-processor/types.ts";

/** What the workflow keeps while it watches one nonce. */
export type Watch = {
  nonce: number;
  /** Every signature on this nonce, oldest first; the last one is what is (re-)sent. */
  signatures: Signature[];
  phase: "confirming" | "blocked";
  /** The code the transaction is blocked with, if it is. */
  blockedCode: string | null;
  cancelRequested: boolean;
  /** ms timestamps (from the journaled clock). */
  lastSentAt: number;
  lastReplacementAt: number;
  /** Whether the node took the latest bytes when they were sent (else they are sent again soon). */
  sent?: boolean;
};

/** One look at the chain for the watched nonce; `head` and `latestNonce` are read at the same block. */
export type Observation = { head: number; latestNonce: number } & (
  | { kind: "mined"; hash: Hex; blockNumber: number; blockHash: Hex; reverted: boolean; confirmations: number }
  /** Another transaction took the nonce, proven by reading the block that holds it, at depth. */
  | { kind: "consumed"; byHash: Hex; blockNumber: number }
  | { kind: "pending" }
  | { kind: "dropped" }
  /** The node's answers do not add up yet (a lagging replica, a block not yet deep): look again. */
  | { kind: "inconclusive"; why: string }
);

export type WatchSettings = { confirmations: number; stuckAfterMs: number };

export type WatchAction =
  | { kind: "wait" }
  | { kind: "settle-mined"; hash: Hex; blockNumber: number; blockHash: Hex; reverted: boolean; ours: "call" | "cancellation" }
  /** Another transaction took the nonce: with a cancellation asked for, the call is cancelled; else sign it at a new nonce. */
  | { kind: "consumed-by-other"; byHash: Hex; then: "cancelled" | "sign-again" }
  | { kind: "rebroadcast" }
  | { kind: "replace" }
  | { kind: "send-cancellation" };

const isCancellation = (watch: Watch, hash: Hex) => watch.signatures.some((signature) => signature.hash === hash && signature.kind === "cancellation");
export const hasCancellation = (watch: Watch) => watch.signatures.some((signature) => signature.kind === "cancellation");

/**
 * Whether a "mined" wake-up names one of the signatures this run watches. A run has the same
 * invocation id as every earlier run of its key, so an earlier run's awakeable, resolved late by the
 * processor's follower, can land in this one; a hash that is not ours is ignored and the chain read.
 */
export const namesOurSignature = (watch: Pick<Watch, "signatures">, mined: { hash: Hex }) => watch.signatures.some((signature) => signature.hash === mined.hash);

/**
 * The next action after an observation:
 * - a hash of ours mined at confirmation depth settles the transaction (the call, or its cancellation);
 * - a nonce proven taken by another transaction at depth: cancelled when a cancellation was asked
 *   for, else the call is signed again at a new nonce (ours can never be mined any more);
 * - a cancellation asked for and not yet signed is sent first;
 * - dropped bytes are sent again as they are;
 * - only the lowest unmined nonce of the sender counts as stuck: a transaction queued behind it
 *   keeps its one signature however long it waits.
 */
export function nextAction(watch: Watch, observation: Observation, now: number, settings: WatchSettings): WatchAction {
  switch (observation.kind) {
    case "mined":
      if (observation.confirmations < settings.confirmations) return { kind: "wait" };
      return {
        kind: "settle-mined",
        hash: observation.hash,
        blockNumber: observation.blockNumber,
        blockHash: observation.blockHash,
        reverted: observation.reverted,
        ours: isCancellation(watch, observation.hash) ? "cancellation" : "call",
      };
    case "consumed":
      return { kind: "consumed-by-other", byHash: observation.byHash, then: watch.cancelRequested ? "cancelled" : "sign-again" };
    case "inconclusive":
      return { kind: "wait" };
    case "dropped":
      if (watch.cancelRequested && !hasCancellation(watch)) return { kind: "send-cancellation" };
      return { kind: "rebroadcast" };
    case "pending": {
      if (watch.cancelRequested && !hasCancellation(watch)) return { kind: "send-cancellation" };
      const lowest = observation.latestNonce === watch.nonce;
      if (lowest && now - watch.lastSentAt >= settings.stuckAfterMs) return { kind: "replace" };
      return { kind: "wait" };
    }
  }
}

export type RebroadcastOutcome = { kind: "sent" } | { kind: "underpriced" } | { kind: "nonce-used" } | { kind: "refused"; code: string; message: string };

export type RebroadcastAction =
  | { kind: "none" }
  | { kind: "replace" }
  | { kind: "block"; code: string; message: string }
  | { kind: "unblock" };

/**
 * After dropped bytes were sent again: refused as underpriced means fees rose past what they offer,
 * which is what stuck means for the lowest unmined nonce (replaced, at most once per stuck interval
 * while blocked; a transaction queued behind it waits its turn); a lasting refusal (funds gone)
 * blocks the transaction with the node's reason, since the signed bytes hold the nonce and cannot
 * be dropped for new ones; accepted bytes unblock it.
 */
export function afterRebroadcast(watch: Watch, outcome: RebroadcastOutcome | null, now: number, settings: WatchSettings, lowest: boolean): RebroadcastAction {
  if (outcome === null) return { kind: "none" };
  if (outcome.kind === "underpriced") {
    return lowest && (watch.phase !== "blocked" || now - watch.lastReplacementAt >= settings.stuckAfterMs) ? { kind: "replace" } : { kind: "none" };
  }
  if (outcome.kind === "refused" && watch.blockedCode !== outcome.code) return { kind: "block", code: outcome.code, message: outcome.message };
  if (outcome.kind === "sent" && watch.phase === "blocked") return { kind: "unblock" };
  return { kind: "none" };
}

/** The highest fees signed on the nonce: what a replacement must clear. */
export function highestSignedFees(watch: Watch): FeeFields {
  let best: FeeFields = { maxFeePerGas: "0", maxPriorityFeePerGas: "0" };
  for (const signature of watch.signatures) {
    if (BigInt(signature.maxFeePerGas) > BigInt(best.maxFeePerGas)) best = { ...best, maxFeePerGas: signature.maxFeePerGas };
    if (BigInt(signature.maxPriorityFeePerGas) > BigInt(best.maxPriorityFeePerGas)) best = { ...best, maxPriorityFeePerGas: signature.maxPriorityFeePerGas };
  }
  return best;
}

/** The phase a record must show when a later run picks the transaction up. */
export type StoredPhase = "submitting" | "awaiting-approval" | "confirming" | "blocked" | "completed" | "failed" | "dead-letter";

export type StartDecision =
  /** The record already ended: report it, do nothing on chain. */
  | { kind: "report" }
  /** Signed bytes of an earlier run may still be mined: watch them, never sign the call anew. */
  | { kind: "resume"; nonce: number }
  /** Nothing was signed yet (or only bytes the node refused for good): start from the beginning. */
  | { kind: "start" };

/**
 * Where a run of a transaction key begins, from its stored record: `completed` and `failed` are
 * final; anything else with live signatures resumes on the nonce of the latest of them (a signature
 * on another nonce belongs to an attempt whose nonce was proven taken); the rest starts afresh.
 */
export function startOf(record: { phase: StoredPhase }, liveSignatures: { nonce: number }[]): StartDecision {
  if (record.phase === "completed" || record.phase === "failed") return { kind: "report" };
  const latest = liveSignatures.at(-1);
  if (latest) return { kind: "resume", nonce: latest.nonce };
  return { kind: "start" };
}
