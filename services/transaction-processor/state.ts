/** The durable state of one TransactionProcessor key: one organization, sender and chain. */
import type { Hex } from "viem";
import type { FeeFields, ProcessorSender, SignedCall } from "./types.ts";

/** A nonce this key handed out and has not been told is settled. */
export type InFlightTransaction = FeeFields & {
  /** The transaction holding the nonce, or `fill-<nonce>` for a fill that belongs to none. */
  transactionId: string;
  attempt: number;
  nonce: number;
  /** Every hash signed for this nonce. Empty while the nonce is reserved and not yet signed. */
  hashes: Hex[];
  /** The signed bytes of the latest hash; sent again as they are, never re-signed at a new nonce. */
  raw: Hex;
  call: SignedCall;
};

export type TransactionProcessorState = {
  sender: ProcessorSender;
  /** Next nonce to hand out; absent until synced from the chain's pending nonce. */
  nextNonce: number;
  inFlight: Record<string, InFlightTransaction>;
  counters: { replacements: number; resyncs: number; submitted: number; fills: number };
};

export const STATE = {
  sender: "sender",
  nextNonce: "nextNonce",
  inFlight: "inFlight",
  counters: "counters",
} as const satisfies Record<keyof TransactionProcessorState, keyof TransactionProcessorState>;

/**
 * The key of a processor: one exclusive queue per organization, sender and chain. Built here and
 * only here; nothing parses it back (an organization id may hold any character).
 */
export function processorKey(organizationId: string, signerAddress: string, chainId: number): string {
  return `${organizationId}:${signerAddress.toLowerCase()}:${chainId}`;
}

/** The in-flight key of a fill that belongs to no transaction. */
export const fillHolder = (nonce: number) => `fill-${nonce}`;
