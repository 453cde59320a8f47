/** What other services may know of TransactionProcessor: its name, request and answer types. */
import type { Hex } from "viem";
import type { TransactionProcessor } from "./object.ts";

export type TransactionProcessorApi = TransactionProcessor;
export const TRANSACTION_PROCESSOR = "TransactionProcessor";

export type SubmitRequest = {
  transactionId: string;
  attempt: number;
  signerAddress: string;
  chainId: number;
  to: Hex | null;
  data: Hex;
  value: string;
  gas: string;
  /** Fee fields fixed by the operation's policy; when absent the node's estimate is used. */
  maxFeePerGas?: string;
  maxPriorityFeePerGas?: string;
};

export type SubmitResult = {
  nonce: number;
  hash: Hex;
  raw: Hex;
  /** `unknown` when the node never confirmed the broadcast; the workflow re-broadcasts the same bytes. */
  broadcast: "sent" | "unknown";
};

export type ReplaceRequest = { transactionId: string; reason: "stuck" };
export type ReplaceResult =
  | { kind: "replaced"; hash: Hex; raw: Hex; maxFeePerGas: string }
  | { kind: "at-fee-cap"; maxFeePerGas: string }
  | { kind: "nonce-consumed" }
  | { kind: "unknown-transaction" };

export type ProcessorSnapshot = {
  key: string;
  nextNonce: number | null;
  inFlight: { transactionId: string; nonce: number; hashes: Hex[] }[];
  counters: { replacements: number; resyncs: number; submitted: number };
};
