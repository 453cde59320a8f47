/**
 * ddwf's one way to reach an ERC-4337 bundler (alto, or any bundler with the standard RPC and
 * Pimlico's gas price method): gas estimates, fees, submission, and the lookups that make a retried
 * submission safe (by hash, receipt). Built on viem's account-abstraction bundler client.
 */
import { http, type Hex } from "viem";
import { createBundlerClient, formatUserOperationRequest, UserOperationNotFoundError, UserOperationReceiptNotFoundError, type UserOperationReceipt } from "viem/account-abstraction";
import { ENTRY_POINT_V07, userOperationFields, type UnsignedUserOperation } from "./safe-account.ts";

/** alto's statuses of an operation it holds or carried (`rejected` and `failed` ones it dropped). */
const HELD_STATUSES = new Set(["not_submitted", "submitted", "included", "reverted"]);

export type GasEstimate = { callGasLimit: string; verificationGasLimit: string; preVerificationGas: string };
export type UserOperationFees = { maxFeePerGas: string; maxPriorityFeePerGas: string };

export type BundlerAccess = ReturnType<typeof createBundlerAccess>;

export function createBundlerAccess(parameters: { url: string; timeoutMs?: number }) {
  const client = createBundlerClient({ transport: http(parameters.url, { retryCount: 0, timeout: parameters.timeoutMs ?? 10_000 }) });
  const request = (operation: UnsignedUserOperation, signature: Hex) => formatUserOperationRequest({ ...userOperationFields(operation), signature });
  return {
    url: parameters.url,
    /** The bundler's gas limits for `operation` (signed with a stand-in of the right length). */
    estimate: async (operation: UnsignedUserOperation, stubSignature: Hex): Promise<GasEstimate> => {
      const answer = (await client.request({ method: "eth_estimateUserOperationGas", params: [request(operation, stubSignature), ENTRY_POINT_V07] })) as Record<string, Hex>;
      return {
        callGasLimit: BigInt(answer.callGasLimit!).toString(),
        verificationGasLimit: BigInt(answer.verificationGasLimit!).toString(),
        preVerificationGas: BigInt(answer.preVerificationGas!).toString(),
      };
    },
    /** The fees the bundler accepts now (its `fast` tier). */
    fees: async (): Promise<UserOperationFees> => {
      const answer = (await client.request({ method: "pimlico_getUserOperationGasPrice" as never, params: [] as never })) as { fast: { maxFeePerGas: Hex; maxPriorityFeePerGas: Hex } };
      return { maxFeePerGas: BigInt(answer.fast.maxFeePerGas).toString(), maxPriorityFeePerGas: BigInt(answer.fast.maxPriorityFeePerGas).toString() };
    },
    /** Sends the signed operation; answers its hash. */
    send: async (operation: UnsignedUserOperation, signature: Hex): Promise<Hex> =>
      (await client.request({ method: "eth_sendUserOperation", params: [request(operation, signature), ENTRY_POINT_V07] })) as Hex,
    /** The operation's receipt once it is mined in a bundle; null before. */
    receipt: async (hash: Hex): Promise<UserOperationReceipt | null> => {
      try {
        return await client.getUserOperationReceipt({ hash });
      } catch (error) {
        if (error instanceof UserOperationReceiptNotFoundError) return null;
        throw error;
      }
    },
    /**
     * Whether the bundler holds the operation (in its mempool, sent, or mined): alto's
     * `pimlico_getUserOperationStatus` for its mempool, then `eth_getUserOperationByHash` for mined
     * ones. False when it never saw it, or dropped it (a restart empties alto's mempool).
     */
    knows: async (hash: Hex): Promise<boolean> => {
      const status = (await client.request({ method: "pimlico_getUserOperationStatus" as never, params: [hash] as never })) as { status: string } | null;
      if (status && HELD_STATUSES.has(status.status)) return true;
      try {
        await client.getUserOperation({ hash });
        return true;
      } catch (error) {
        if (error instanceof UserOperationNotFoundError) return false;
        throw error;
      }
    },
  };
}
