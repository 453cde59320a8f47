/** The durable state of one `organizationId:signerAddress:chainId` key of TransactionProcessor. */
import type { Hex } from "viem";

export type FeeFields = { maxFeePerGas: string; maxPriorityFeePerGas: string };

/** A transaction this key signed and has not been told is settled. */
export type InFlightTransaction = FeeFields & {
  transactionId: string;
  /** Increases when the workflow asks for a fresh nonce after an outside sender consumed ours. */
  attempt: number;
  nonce: number;
  /** Every hash signed for this nonce: the original, then each fee replacement. */
  hashes: Hex[];
  /** The signed bytes of the latest hash; re-broadcast as they are, never re-signed at a new nonce. */
  raw: Hex;
  /** What was signed, so a replacement signs the same call. */
  call: { to: Hex | null; data: Hex; value: string; gas: string };
};

export type TransactionProcessorState = {
  /** Next nonce to hand out; absent until synced from the chain's pending nonce. */
  nextNonce: number;
  inFlight: Record<string, InFlightTransaction>;
  /** Replacements and re-syncs, for inspection and metrics. */
  counters: { replacements: number; resyncs: number; submitted: number };
};

export const STATE = {
  nextNonce: "nextNonce",
  inFlight: "inFlight",
  counters: "counters",
} as const satisfies Record<keyof TransactionProcessorState, keyof TransactionProcessorState>;

/** The key of a processor: one exclusive queue per organization, sender and chain. */
export function processorKey(organizationId: string, signerAddress: string, chainId: number): string {
  return `${organizationId}:${signerAddress.toLowerCase()}:${chainId}`;
}
