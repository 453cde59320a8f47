/**
 * Which EntryPoint nonce (key 0) a smart account's next user operation takes, and whether a signed
 * operation may go to the bundler now. Owners sign the nonce, so it is chosen once, before they sign:
 *
 *  allocation  the lowest nonce at or above the EntryPoint's that no open ddwf transaction of the
 *              account holds. A nonce given up by a transaction that ended unsent (rejected,
 *              cancelled, refused) is taken again by the next one, so the account's queue does not
 *              keep a gap that no one will fill.
 *  submission  one operation of an account in the bundler at a time, the next one to execute: an
 *              operation whose nonce is above the EntryPoint's waits behind the one that is not yet
 *              executed (BLOCKED_BY_QUEUE, as a bundler that takes no queued operations answers);
 *              one below it can never be mined under this signature.
 */

/** The lowest nonce ≥ the EntryPoint's that is not held; `held` may list nonces in any order. */
export function nextUserOperationNonce(entryPointNonce: bigint, held: Iterable<bigint>): bigint {
  const taken = new Set<bigint>();
  for (const nonce of held) if (nonce >= entryPointNonce) taken.add(nonce);
  let candidate = entryPointNonce;
  while (taken.has(candidate)) candidate += 1n;
  return candidate;
}

export type SubmissionGate =
  /** The EntryPoint expects this nonce next: send it. */
  | { kind: "send" }
  /** An earlier nonce of the account is not executed yet: wait behind it. */
  | { kind: "behind"; waitingFor: bigint }
  /** The EntryPoint moved past this nonce: the operation was executed, or another one took its place. */
  | { kind: "passed" };

export function submissionGate(parameters: { entryPointNonce: bigint; nonce: bigint }): SubmissionGate {
  const { entryPointNonce, nonce } = parameters;
  if (entryPointNonce === nonce) return { kind: "send" };
  if (entryPointNonce < nonce) return { kind: "behind", waitingFor: entryPointNonce };
  return { kind: "passed" };
}
