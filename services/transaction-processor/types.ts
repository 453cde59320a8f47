/** Requests and answers of TransactionProcessor, on their own so callers need no implementation. */
import type { Hex } from "viem";
import type { NonceFillReason } from "../../shared/db/schema/transactions.ts";

export type FeeFields = { maxFeePerGas: string; maxPriorityFeePerGas: string };

/** The sender a processor key serves. Keys are never parsed: every request names its sender. */
export type ProcessorSender = { organizationId: string; signerAddress: string; chainId: number };

/** What is signed: the call, without nonce and fees. */
export type SignedCall = { to: Hex | null; data: Hex; value: string; gas: string };

/** The stored operation as the processor prepares and signs it. */
export type SubmittedOperation = {
  /** null deploys a contract. */
  target: Hex | null;
  data: Hex;
  value: string;
  /** Fixed by the operation, or null to estimate. */
  gasLimit: string | null;
  /** Fee fields fixed by the operation's policy; when absent the node's estimate is used. */
  maxFeePerGas: string | null;
  maxPriorityFeePerGas: string | null;
};

/**
 * Which signer signs: the EOA route's keys, or the sign-only route's HSM (only after the
 * transaction's approvals released it). Absent (fills, older callers): whichever holds the sender's key.
 */
export type SignerRoute = "eoa" | "sign-only";

export type SubmitRequest = ProcessorSender & {
  transactionId: string;
  route?: SignerRoute;
  /** Increases when the workflow asks for a fresh nonce after an outside sender consumed ours. */
  attempt: number;
  operation: SubmittedOperation;
  /**
   * Resolved with a `MinedTransaction` once one of the transaction's signatures is mined at
   * confirmation depth in a block still canonical (the key's follower watches its nonces).
   */
  minedAwakeableId?: string;
};

/** A signature of ours found mined at confirmation depth, its block checked canonical. */
export type MinedTransaction = { hash: Hex; blockNumber: number; blockHash: Hex; reverted: boolean };

export type Signature = FeeFields & { hash: Hex; raw: Hex; kind: "original" | "replacement" | "cancellation" };

export type SubmitResult =
  | {
      kind: "signed";
      nonce: number;
      /** Every signature made on this nonce, oldest first; the last is the one sent. */
      signatures: Signature[];
      /** `unknown` when the node never confirmed the broadcast; the workflow re-broadcasts the same bytes. */
      broadcast: "sent" | "unknown";
      /** Already mined at confirmation depth when the processor looked right after sending. */
      mined: MinedTransaction | null;
    }
  /** A cancellation arrived before a nonce was taken: nothing was signed. */
  | { kind: "cancelled" };

export type ReplaceRequest = ProcessorSender & {
  transactionId: string;
  route?: SignerRoute;
  attempt: number;
  nonce: number;
  /** `bump`: the same call at higher fees; `cancel`: a zero-value self-transfer at higher fees. */
  kind: "bump" | "cancel";
  /** The call of the transaction (a bump signs it again). */
  call: SignedCall;
  /** The highest fees signed on this nonce so far: the replacement clears them by the bump. */
  previous: FeeFields;
  /** Why a cancellation is sent (recorded with the fill). */
  reason?: NonceFillReason;
};

export type ReplaceResult =
  | { kind: "replaced"; signature: Signature }
  | { kind: "at-fee-cap"; maxFeePerGas: string }
  | { kind: "nonce-consumed" };

export type FillRequest = ProcessorSender & {
  nonce: number;
  reason: NonceFillReason;
  /** The transaction whose nonce is filled (its run ended), when there is one. */
  transactionId?: string;
  /** The highest fees signed on the nonce so far, which the fill must clear. */
  previous?: FeeFields;
};
export type FillResult = { kind: "sent"; hash: Hex } | { kind: "nonce-consumed" } | { kind: "at-fee-cap" };

export type SettleRequest = { transactionId: string };
export type ReleaseRequest = { transactionId: string };
export type ReleaseResult = { kind: "released" } | { kind: "signed"; nonce: number } | { kind: "filled"; nonce: number };
export type ResyncRequest = ProcessorSender;

export type ProcessorSnapshot = {
  key: string;
  sender: ProcessorSender | null;
  nextNonce: number | null;
  inFlight: { transactionId: string; nonce: number; hashes: Hex[] }[];
  counters: { replacements: number; resyncs: number; submitted: number; fills: number };
};
