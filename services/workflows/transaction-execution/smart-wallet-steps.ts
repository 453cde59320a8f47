/**
 * The side effects of the smart-wallet route, built from their dependencies like the other steps;
 * the route runs each inside one journaled step.
 *
 *  prepare   the account (deployed: its owners and threshold read from it; not yet: its address
 *            checked against owners and salt, deployed by this operation when it is the first),
 *            the nonce (claimed for the transaction: the lowest at or above the EntryPoint's that
 *            no open transaction of the account holds),
 *            the bundler's fees and gas estimate (a simulation revert ends it here, nothing sent)
 *  decide    one owner's decision, checked against the account's owners and the stored operation
 *  signatures  the approvals' signatures, packed as the Safe module reads them
 *  submit    exactly once: the bundler or the EntryPoint already knows the hash → nothing is sent;
 *            and in order: an earlier nonce of the account not executed yet → wait behind it
 *  receipt   the bundler's receipt, with the bundle transaction's bytes from the chain node
 *  locate    where the chain node has the operation now (a reorg may move or drop its bundle);
 *            a dropped bundle is sent again as the same bytes
 */
import { getAddress, parseEventLogs, type Address, type Hex } from "viem";
import type { Database } from "../../../shared/db/client.ts";
import { listApprovalDecisions, listApprovalSignatures, recordApprovalDecision } from "../../../shared/db/repositories/transaction-approvals.ts";
import { getTransaction } from "../../../shared/db/repositories/transactions.ts";
import { claimUserOperationNonce, listHeldUserOperationNonces } from "../../../shared/db/repositories/user-operation-nonces.ts";
import type { ChainAccess, ChainRegistry } from "../../../shared/evm/chain-access.ts";
import type { BundlerAccess } from "../../../shared/evm/erc4337/bundler.ts";
import { classifyBundlerFailure } from "../../../shared/evm/erc4337/bundler-refusal.ts";
import { submissionGate } from "../../../shared/evm/erc4337/user-operation-nonce.ts";
import {
  dummySafeSignature,
  ENTRY_POINT_V07,
  entryPointAbi,
  normalisedOwners,
  packSafeSignatures,
  predictSafeAddress,
  readProxyCreationCode,
  SAFE_CONTRACTS,
  safeAbi,
  safeCallData,
  safeFactoryCall,
  safeOperationHash,
  userOperationHash,
  withSignatureGas,
  type UnsignedUserOperation,
} from "../../../shared/evm/erc4337/safe-account.ts";
import type { TransactionApproval } from "../../../shared/signers/approval.ts";
import type { ExecutorSelection } from "../../../shared/signers/executor-selection.ts";
import { checkOwnerDecision } from "../../../shared/signers/smart-wallet-approval.ts";
import { rebroadcast } from "./chain-observation.ts";
import { transactionError } from "./errors.ts";
import type { StoredOperation } from "./steps.ts";
import type { ApprovalSignal, ApproveTransactionRequest } from "./types.ts";

export type SmartWalletStepDependencies = { db: Database; chains: ChainRegistry; bundler: BundlerAccess };

export type StoredUserOperation = NonNullable<TransactionApproval["userOperation"]>;
export type PreparedUserOperation = { owners: string[]; threshold: number; userOperation: StoredUserOperation };
/** `askBundlerFirst: false` after a reorg dropped the bundle: the bundler still reports it included. */
export type SubmitOptions = { askBundlerFirst: boolean };
export type SubmitOutcome = { kind: "sent" | "known" } | { kind: "queue-full"; message: string };
export type BundleReceipt = {
  txHash: Hex;
  blockNumber: number;
  blockHash: Hex;
  success: boolean;
  reason: string | null;
  /** The bundle transaction's signed bytes as the node gave them (null when it could not): sent again when a reorg drops it. */
  raw: Hex | null;
};
/** Where the chain node has the operation now: mined (in this bundle or, after a reorg, in another) or nowhere. */
export type BundleLocation = { kind: "mined"; bundle: BundleReceipt; depth: number } | { kind: "missing" };

/** How far back a re-bundled operation is looked for, below the block its first bundle was in. */
const REORG_SEARCH_BLOCKS = 128;

type SmartWalletSelection = Extract<ExecutorSelection, { route: "smart-wallet" }>;

export function unsignedOf(stored: StoredUserOperation): UnsignedUserOperation {
  return {
    sender: stored.sender as Address,
    nonce: stored.nonce,
    factory: stored.factory as Address | null,
    factoryData: stored.factoryData as Hex | null,
    callData: stored.callData as Hex,
    callGasLimit: stored.callGasLimit,
    verificationGasLimit: stored.verificationGasLimit,
    preVerificationGas: stored.preVerificationGas,
    maxFeePerGas: stored.maxFeePerGas,
    maxPriorityFeePerGas: stored.maxPriorityFeePerGas,
  };
}

export function createSmartWalletSteps(dependencies: SmartWalletStepDependencies) {
  const { db, bundler } = dependencies;
  const chainFor = (chainId: number): ChainAccess => {
    const chain = dependencies.chains.get(chainId);
    if (!chain) throw transactionError("CHAIN_NOT_CONFIGURED", `chain ${chainId} is not configured on this worker`);
    return chain;
  };

  return {
    /**
     * Builds the user operation the owners are to sign: account checks, nonce, call data, fees and
     * the bundler's gas estimate. Refusals are terminal and name the reason; nothing is sent.
     */
    prepare: async (transactionId: string, operation: StoredOperation & { executor: SmartWalletSelection }): Promise<PreparedUserOperation> => {
      const selection = operation.executor;
      const chain = chainFor(operation.chainId);
      const account = getAddress(selection.wallet);
      if (account.toLowerCase() !== operation.signerAddress.toLowerCase()) {
        throw transactionError("INVALID_TRANSACTION_REQUEST", `signerAddress: must be the smart account ${account} the executor selection names`, { fields: "signerAddress" });
      }
      if (operation.target === null) throw transactionError("INVALID_TRANSACTION_REQUEST", "target: the smart-wallet route sends calls; it cannot deploy a contract", { fields: "target" });
      const code = await chain.client.getCode({ address: account });
      let owners: string[];
      let threshold: number;
      if (code && code !== "0x") {
        const [onChainOwners, onChainThreshold] = await Promise.all([
          chain.client.readContract({ address: account, abi: safeAbi, functionName: "getOwners" }),
          chain.client.readContract({ address: account, abi: safeAbi, functionName: "getThreshold" }),
          chain.client.readContract({ address: account, abi: safeAbi, functionName: "isModuleEnabled", args: [SAFE_CONTRACTS.module] }).then((enabled) => {
            if (!enabled) throw transactionError("EXECUTOR_SELECTION_INVALID", `smart account ${account} does not have the Safe 4337 module ${SAFE_CONTRACTS.module} enabled`);
          }),
        ]);
        owners = onChainOwners.map((owner) => owner.toLowerCase());
        threshold = Number(onChainThreshold);
      } else {
        if (!selection.account) {
          throw transactionError("EXECUTOR_SELECTION_INVALID", `smart account ${account} is not deployed; name its owners and saltNonce in executor.account to deploy it with this operation`);
        }
        owners = normalisedOwners(selection.account.owners).map((owner) => owner.toLowerCase());
        threshold = selection.threshold;
        const predicted = predictSafeAddress({ owners, threshold, saltNonce: BigInt(selection.account.saltNonce), proxyCreationCode: await readProxyCreationCode(chain.client) });
        if (predicted.toLowerCase() !== account.toLowerCase()) {
          throw transactionError("EXECUTOR_SELECTION_INVALID", `owners, threshold and saltNonce give the account ${predicted}, not ${account}`);
        }
      }
      if (threshold !== selection.threshold) throw transactionError("EXECUTOR_SELECTION_INVALID", `smart account ${account} needs ${threshold} owner signatures, the selection says ${selection.threshold}`);
      if (threshold > owners.length) throw transactionError("EXECUTOR_SELECTION_INVALID", `threshold ${threshold} is more than the ${owners.length} owners`);

      const chainNonce = await chain.client.readContract({ address: ENTRY_POINT_V07, abi: entryPointAbi, functionName: "getNonce", args: [account, 0n] });
      // Claimed before anything else can fail for good: a terminal failure below ends the
      // transaction, which gives the nonce up again.
      const nonce = await claimUserOperationNonce(db, { transactionId, chainId: operation.chainId, account, entryPointNonce: chainNonce });
      // Only the account's first operation deploys it.
      const deploy = (!code || code === "0x") && nonce === 0n && selection.account;
      const draft: UnsignedUserOperation = {
        sender: account,
        nonce: nonce.toString(),
        factory: null,
        factoryData: null,
        ...(deploy ? safeFactoryCall({ owners, threshold, saltNonce: BigInt(selection.account!.saltNonce) }) : {}),
        callData: safeCallData({ target: getAddress(operation.target), value: BigInt(operation.value), data: operation.data }),
        callGasLimit: "0",
        verificationGasLimit: "0",
        preVerificationGas: "0",
        ...(await bundler.fees()),
      };
      // Estimated against the chain as it is now (the EntryPoint's nonce, deployed by this estimate
      // when it is not yet): an operation queued behind one the bundler has not seen would
      // otherwise fail simulation on its nonce.
      const estimated: UnsignedUserOperation = {
        ...draft,
        nonce: chainNonce.toString(),
        ...((!code || code === "0x") && selection.account ? safeFactoryCall({ owners, threshold, saltNonce: BigInt(selection.account.saltNonce) }) : {}),
      };
      let estimate;
      try {
        estimate = await bundler.estimate(estimated, dummySafeSignature(threshold));
      } catch (error) {
        const failure = classifyBundlerFailure(error);
        if (failure.kind === "outage") throw error;
        // A revert in simulation is the call's own revert: nothing is sent for it.
        const code = /revert/i.test(failure.message) ? "EXECUTION_REVERTED" : "BUNDLER_REFUSED";
        throw transactionError(code, `the bundler's gas estimate failed: ${failure.message}`);
      }
      const unsigned = { ...draft, ...withSignatureGas(estimate, threshold) };
      return {
        owners,
        threshold,
        userOperation: {
          ...unsigned,
          userOpHash: userOperationHash(unsigned, operation.chainId),
          safeOperationHash: safeOperationHash(unsigned, operation.chainId),
          entryPoint: ENTRY_POINT_V07,
          module: SAFE_CONTRACTS.module,
          chainId: operation.chainId,
        },
      };
    },

    /** Decisions stored so far, oldest first. */
    decisions: async (transactionId: string): Promise<ApprovalSignal[]> =>
      (await listApprovalDecisions(db, transactionId)).map((row) => ({ approver: row.approver, decision: row.decision, at: row.decidedAt.toISOString() })),

    /**
     * Checks and stores one owner's decision; null when the transaction is not on the smart-wallet
     * route (another route's check applies). Throws a terminal error naming the field when it does not count.
     */
    decide: async (transactionId: string, request: ApproveTransactionRequest, requestId: string): Promise<ApprovalSignal | null> => {
      const record = await getTransaction(db, transactionId);
      if (!record) throw transactionError("TRANSACTION_NOT_FOUND", `no transaction ${transactionId}`);
      if (record.executor.route !== "smart-wallet") return null;
      const approval = record.approval;
      if (record.phase !== "awaiting-approval" || approval?.state !== "pending" || !approval.userOperation || !approval.quorum) {
        throw transactionError("APPROVAL_NOT_OPEN", `transaction ${transactionId} takes no owner signatures now (phase ${record.phase}${approval ? `, approval ${approval.state}` : ""})`);
      }
      const stored = await listApprovalDecisions(db, transactionId);
      const check = await checkOwnerDecision({
        owners: approval.quorum.approvers ?? [],
        safeOperationHash: approval.userOperation.safeOperationHash as Hex,
        subject: { transactionId, chainId: record.chainId, target: record.target, data: record.data as Hex, value: record.value },
        input: request,
        decided: stored.map((row) => row.approver),
      });
      if (!check.counts && check.code !== "APPROVAL_DUPLICATE") throw transactionError(check.code, check.message, { field: check.field });
      const recorded = await recordApprovalDecision(db, { transactionId, approver: request.approver, decision: request.decision, signature: request.signature, requestId });
      if (!recorded) throw transactionError("APPROVAL_DUPLICATE", `approver: ${request.approver} has already decided on transaction ${transactionId}`, { field: "approver" });
      return { approver: recorded.approver, decision: recorded.decision, at: recorded.decidedAt.toISOString() };
    },

    /** The user operation's `signature`: the released approvers' signatures, packed for the Safe module. */
    signature: async (transactionId: string, approvers: string[]): Promise<Hex> => {
      const rows = await listApprovalSignatures(db, transactionId);
      const chosen = approvers.map((approver) => {
        const row = rows.find((candidate) => candidate.approver === approver);
        if (!row) throw new Error(`the approval of ${approver} on ${transactionId} is not stored`);
        return { owner: approver, signature: row.signature as Hex };
      });
      return packSafeSignatures(chosen);
    },

    /**
     * Sends the signed operation unless it was sent already: the bundler knows its hash, or the
     * EntryPoint's nonce moved past it (then its receipt must be ours, else another operation took
     * the nonce). It goes only when its nonce is the EntryPoint's next: behind an earlier one, or
     * refused because the bundler holds another operation there, it answers `queue-full` (not
     * thrown); other refusals are terminal; an outage throws (the step retries it).
     */
    submit: async (stored: StoredUserOperation, signature: Hex, options: SubmitOptions = { askBundlerFirst: true }): Promise<SubmitOutcome> => {
      const hash = stored.userOpHash as Hex;
      if (options.askBundlerFirst && (await bundler.knows(hash))) return { kind: "known" };
      const chain = chainFor(stored.chainId);
      const chainNonce = await chain.client.readContract({ address: ENTRY_POINT_V07, abi: entryPointAbi, functionName: "getNonce", args: [stored.sender as Address, 0n] });
      const gate = submissionGate({ entryPointNonce: chainNonce, nonce: BigInt(stored.nonce) });
      if (gate.kind === "behind") {
        const holder = (await listHeldUserOperationNonces(db, { chainId: stored.chainId, account: stored.sender })).find((held) => held.nonce === gate.waitingFor);
        const by = holder ? `transaction ${holder.transactionId}` : "no open ddwf transaction";
        return { kind: "queue-full", message: `nonce ${stored.nonce} waits behind nonce ${gate.waitingFor} of the account, not executed yet (held by ${by})` };
      }
      if (gate.kind === "passed") {
        const events = await chain.client.getContractEvents({ address: ENTRY_POINT_V07, abi: entryPointAbi, eventName: "UserOperationEvent", args: { userOpHash: hash }, fromBlock: 0n });
        if (events.length > 0) return { kind: "known" };
        throw transactionError("USER_OPERATION_NONCE_TAKEN", `nonce ${stored.nonce} of smart account ${stored.sender} was used by another user operation; this one can never be mined`);
      }
      try {
        const sent = await bundler.send(unsignedOf(stored), signature);
        if (sent.toLowerCase() !== hash.toLowerCase()) throw new Error(`the bundler answered hash ${sent} for user operation ${hash}`);
        return { kind: "sent" };
      } catch (error) {
        const failure = classifyBundlerFailure(error);
        if (failure.kind === "outage") throw error;
        if (failure.kind === "queue-full") return { kind: "queue-full", message: failure.message };
        if (failure.kind === "already-known") return { kind: "known" };
        throw transactionError(/revert/i.test(failure.message) ? "EXECUTION_REVERTED" : "BUNDLER_REFUSED", `the bundler refused the user operation: ${failure.message}`);
      }
    },

    /** The bundle transaction that carried the operation, once the bundler reports it mined. */
    receipt: async (chainId: number, userOpHash: Hex): Promise<BundleReceipt | null> => {
      const found = await bundler.receipt(userOpHash);
      if (!found) return null;
      return {
        txHash: found.receipt.transactionHash,
        blockNumber: Number(found.receipt.blockNumber),
        blockHash: found.receipt.blockHash,
        success: found.success,
        reason: found.reason ?? null,
        raw: await rawTransaction(chainFor(chainId), found.receipt.transactionHash),
      };
    },

    /**
     * Where the node has the operation now. The node, not the bundler, decides: alto keeps the
     * receipt it first saw after a reorg took its block away. The bundle moved to another block →
     * mined there; gone from the chain → the operation's event looked up again (another bundle may
     * carry it now) → else missing.
     */
    locate: async (chainId: number, bundle: BundleReceipt, userOpHash: Hex): Promise<BundleLocation> => {
      const chain = chainFor(chainId);
      const [receipt, head] = await Promise.all([chain.client.getTransactionReceipt({ hash: bundle.txHash }).catch(() => null), chain.client.getBlockNumber()]);
      const depthOf = (blockNumber: bigint) => Number(head) - Number(blockNumber) + 1;
      if (receipt) {
        if (receipt.blockHash === bundle.blockHash) return { kind: "mined", bundle, depth: depthOf(receipt.blockNumber) };
        const [event] = parseEventLogs({ abi: entryPointAbi, eventName: "UserOperationEvent", logs: receipt.logs }).filter((log) => log.args.userOpHash === userOpHash);
        if (event) {
          const moved = { ...bundle, blockNumber: Number(receipt.blockNumber), blockHash: receipt.blockHash, success: event.args.success };
          return { kind: "mined", bundle: moved, depth: depthOf(receipt.blockNumber) };
        }
      }
      const fromBlock = BigInt(Math.max(0, bundle.blockNumber - REORG_SEARCH_BLOCKS));
      const events = await chain.client.getContractEvents({ address: ENTRY_POINT_V07, abi: entryPointAbi, eventName: "UserOperationEvent", args: { userOpHash }, fromBlock });
      const event = events.at(-1);
      if (!event || event.blockNumber === null || event.blockHash === null || event.transactionHash === null) return { kind: "missing" };
      const carried: BundleReceipt = {
        txHash: event.transactionHash,
        blockNumber: Number(event.blockNumber),
        blockHash: event.blockHash,
        success: event.args.success ?? false,
        reason: null,
        raw: await rawTransaction(chain, event.transactionHash),
      };
      return { kind: "mined", bundle: carried, depth: depthOf(event.blockNumber) };
    },

    /** Sends a bundle a reorg dropped again, as the same bytes; answers what the node said. */
    rebroadcastBundle: (chainId: number, raw: Hex) => rebroadcast(chainFor(chainId), raw),
  };
}

/** A transaction's signed bytes from the node (`eth_getRawTransactionByHash`); null when it does not have them or cannot say. */
async function rawTransaction(chain: ChainAccess, hash: Hex): Promise<Hex | null> {
  try {
    const raw = (await chain.client.request({ method: "eth_getRawTransactionByHash" as never, params: [hash] as never })) as Hex | null;
    return raw && raw !== "0x" ? raw : null;
  } catch {
    return null;
  }
}

export type SmartWalletSteps = ReturnType<typeof createSmartWalletSteps>;
