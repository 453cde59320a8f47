/** The durable state of one TransactionProcessor key: one organization, sender and chain. */
import type { Hex } from "viem";
import type { ProcessorSender } from "./types.ts";

/**
 * A nonce this key handed out and has not been told is settled. Kept small: the signed bytes live
 * with the transaction in the database; the processor keeps the hashes its follower watches.
 */
export type InFlightTransaction = {
  /** The transaction holding the nonce, or `fill-<nonce>` for a fill that belongs to none. */
  transactionId: string;
  attempt: number;
  nonce: number;
  /** Every hash signed for this nonce. Empty while the nonce is reserved and not yet signed. */
  hashes: Hex[];
  /** Resolved by the follower when one of the hashes is mined at depth (the workflow waits on it). */
  minedAwakeableId?: string;
};

export type ProcessorCounters = { replacements: number; resyncs: number; submitted: number; fills: number };

/** Everything but the in-flight map, in one key: one state write per change of it. */
export type ProcessorMeta = {
  sender: ProcessorSender | null;
  /** Next nonce to hand out; null until synced from the chain's pending nonce. */
  nextNonce: number | null;
  counters: ProcessorCounters;
  /** Whether a follow tick is scheduled. */
  following: boolean;
  followTicks: number;
};

export type TransactionProcessorState = {
  meta: ProcessorMeta;
  inFlight: Record<string, InFlightTransaction>;
};

export const STATE = {
  meta: "meta",
  inFlight: "inFlight",
} as const satisfies Record<keyof TransactionProcessorState, keyof TransactionProcessorState>;

export const EMPTY_META: ProcessorMeta = {
  sender: null,
  nextNonce: null,
  counters: { replacements: 0, resyncs: 0, submitted: 0, fills: 0 },
  following: false,
  followTicks: 0,
};

/**
 * The key of a processor: one exclusive queue per organization, sender and chain. Built here and
 * only here; nothing parses it back (an organization id may hold any character).
 */
export function processorKey(organizationId: string, signerAddress: string, chainId: number): string {
  return `${organizationId}:${signerAddress.toLowerCase()}:${chainId}`;
}

/** The in-flight key of a fill that belongs to no transaction. */
export const fillHolder = (nonce: number) => `fill-${nonce}`;
