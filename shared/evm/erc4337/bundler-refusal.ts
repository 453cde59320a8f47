/**
 * What a failed bundler call means for the transaction, from the error viem raises: the bundler
 * answered with a JSON-RPC error (a refusal), or it did not answer usefully at all (an outage,
 * waited out). A refusal is `queue-full` when the bundler holds another operation of the account in
 * the place this one needs: the same nonce or a second deployment already in its mempool or being
 * bundled, or its per-account queue limit reached. Alto says which only in its message, so the
 * text is what tells the refusals apart; `already-known` is this very operation, held already.
 */
import { BaseError, decodeErrorResult, HttpRequestError, RpcRequestError, TimeoutError, type Hex } from "viem";

export type BundlerFailure =
  | { kind: "queue-full"; message: string }
  | { kind: "already-known"; message: string }
  | { kind: "refused"; message: string }
  | { kind: "outage"; message: string };

const QUEUE_FULL = [
  /maximum number of (queued|parallel) user operations/i,
  /already present in mempool/i,
  /same sender and nonce is already being processed/i,
  /another deployment operation for this sender/i,
  /conflicting userOperation with initCode for this sender/i,
];

export function classifyBundlerFailure(error: unknown): BundlerFailure {
  const message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof BaseError)) return { kind: "outage", message };
  const rpc = error.walk((cause) => cause instanceof RpcRequestError) as RpcRequestError | null;
  const transport = error.walk((cause) => cause instanceof HttpRequestError || cause instanceof TimeoutError);
  if (!rpc) return { kind: "outage", message: transport ? (transport as BaseError).shortMessage : message };
  // A server-side failure of the bundler itself is an outage, not a verdict on the operation.
  if (rpc.code === -32603 && !/AA\d\d|revert/i.test(rpc.details)) return { kind: "outage", message: rpc.details };
  if (QUEUE_FULL.some((pattern) => pattern.test(rpc.details))) return { kind: "queue-full", message: rpc.details };
  if (/^already known$/i.test(rpc.details.trim())) return { kind: "already-known", message: rpc.details };
  return { kind: "refused", message: readableRevert(rpc.details) };
}

/** The bundler's message with revert data (`reason: 0x08c379a0…`) decoded to its Error(string) or Panic(uint256). */
export function readableRevert(message: string): string {
  return message.replace(/0x(08c379a0|4e487b71)[0-9a-fA-F]*/g, (data) => {
    try {
      const decoded = decodeErrorResult({ data: data as Hex });
      return decoded.errorName === "Error" ? String(decoded.args[0]) : `${decoded.errorName}(${decoded.args.map(String).join(", ")})`;
    } catch {
      return data;
    }
  });
}
