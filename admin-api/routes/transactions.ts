/**
 * Transactions: read one with its phase history and signatures (system:read), cancel one, hand in an
 * approver's signed decision on a sign-only one (system:operate). All audited.
 */
import { Hono } from "hono";
import { z } from "zod";
import { approveTransactionRequestSchema } from "../../services/workflows/transaction-execution/types.ts";
import type { DapiEnv } from "../context.ts";
import { DapiError } from "../errors.ts";
import type { ServicesSource } from "../middleware/services.ts";
import { defineOperation } from "../openapi/operation.ts";
import { parseJsonBody, parseParams } from "../request-input.ts";
import { guard, relativePath } from "./guard.ts";

export const TRANSACTIONS_PREFIX = "/api/v2/admin/operator/transactions";

const transactionParams = z.object({
  transactionId: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, "must be 1-128 characters of letters, digits, _ and -").describe("The transaction id (its workflow key)"),
});
const isoOrNull = z.string().nullable().describe("ISO 8601 UTC");

export const transactionInspection = z.object({
  id: z.string(),
  organizationId: z.string(),
  chainId: z.number().int(),
  signerAddress: z.string(),
  target: z.string().nullable().describe("null for a contract creation"),
  value: z.string().describe("Wei, decimal"),
  executor: z.record(z.string(), z.unknown()).describe("The signer route the operation was submitted with"),
  correlationId: z.string().nullable(),
  phase: z.string(),
  txHash: z.string().nullable(),
  nonce: z.number().int().nullable(),
  blockNumber: z.number().int().nullable(),
  blockHash: z.string().nullable(),
  errorCode: z.string().nullable(),
  errorMessage: z.string().nullable(),
  cancelRequestedAt: isoOrNull,
  cancelReason: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  phaseChangedAt: z.string(),
  transitions: z
    .array(
      z.object({
        sequence: z.number().int(),
        phase: z.string(),
        reason: z.string().nullable(),
        txHash: z.string().nullable(),
        nonce: z.number().int().nullable(),
        errorCode: z.string().nullable(),
        errorMessage: z.string().nullable(),
        at: z.string(),
      }),
    )
    .describe("Every phase change over all runs of the id, oldest first"),
  signatures: z
    .array(
      z.object({
        kind: z.string().describe("original, replacement or cancellation"),
        nonce: z.number().int(),
        hash: z.string(),
        maxFeePerGas: z.string(),
        maxPriorityFeePerGas: z.string(),
        refusedAt: isoOrNull.describe("When the node refused these bytes for good"),
        createdAt: z.string(),
      }),
    )
    .describe("Every transaction signed for the operation (without the signed bytes), oldest first"),
});

export type TransactionInspection = z.infer<typeof transactionInspection>;

const cancelRequest = z
  .object({ reason: z.string().min(1).max(500).optional().describe("Why it is cancelled; stored with the transaction and its fill") })
  .strict();
const cancelResponse = z.object({
  acknowledged: z.literal(true),
  transactionId: z.string(),
  phase: z.string().describe("The transaction's phase when the cancellation was taken; the outcome follows in its record and webhooks"),
});

const approvalResponse = z.object({
  counted: z.literal(true),
  transactionId: z.string(),
  approver: z.string().describe("The approver, lower case"),
  decision: z.enum(["approve", "reject"]),
  at: z.string().describe("When the decision was stored (ISO 8601)"),
});

export const transactionOperations = {
  inspect: defineOperation({
    operationId: "inspectTransaction",
    method: "get",
    path: `${TRANSACTIONS_PREFIX}/:transactionId`,
    tag: "transactions",
    summary: "One transaction's record, phase history and signed hashes",
    permission: "system:read",
    audited: true,
    params: transactionParams,
    response: transactionInspection,
    errors: ["TRANSACTION_NOT_FOUND"],
  }),
  cancel: defineOperation({
    operationId: "cancelTransaction",
    method: "post",
    path: `${TRANSACTIONS_PREFIX}/:transactionId/cancel`,
    tag: "transactions",
    summary: "Cancel one transaction",
    description:
      "Before its nonce is taken nothing reaches the chain and no nonce is used. After broadcast a zero-value self-transfer with bumped fees races it on its nonce: the record ends completed when the original is mined, failed/CANCELLED when the cancellation is.",
    permission: "system:operate",
    audited: true,
    params: transactionParams,
    body: cancelRequest,
    response: cancelResponse,
    errors: ["TRANSACTION_NOT_FOUND", "TRANSACTION_ALREADY_FINAL"],
  }),
  approve: defineOperation({
    operationId: "approveTransaction",
    method: "post",
    path: `${TRANSACTIONS_PREFIX}/:transactionId/approvals`,
    tag: "transactions",
    summary: "Hand in one approver's signed decision on a sign-only or smart-wallet transaction",
    description:
      "The signature is the approver's EIP-712 signature of TransactionApproval { transactionId, chainId, target, calldataHash, value, decision } in the domain { name: \"ddwf\", version: \"1\", chainId }. A decision that counts is stored and handed to the waiting workflow: the M-th approval of the signer's policy releases the signing in the HSM, one rejection ends the transaction failed/APPROVAL_REJECTED. On the smart-wallet route the approver is an owner of the account and approving is signing the user operation: the signature is over the SafeOp hash the transaction's approval.userOperation.safeOperationHash shows (EIP-712 SafeOp of the Safe 4337 module); a rejection is signed as above. The M-th owner signature releases submission to the bundler; rejections that leave fewer owners than the threshold end it failed/APPROVAL_REJECTED. An approver outside the policy (or not an owner), a signature that does not verify, or a second decision of the same approver does not count (data.field names the field).",
    permission: "system:operate",
    audited: true,
    params: transactionParams,
    body: approveTransactionRequestSchema,
    response: approvalResponse,
    errors: ["TRANSACTION_NOT_FOUND", "APPROVER_NOT_IN_POLICY", "APPROVAL_SIGNATURE_INVALID", "APPROVAL_DUPLICATE", "APPROVAL_NOT_OPEN"],
  }),
};

export function createTransactionRoutes(source: ServicesSource | undefined): Hono<DapiEnv> {
  const routes = new Hono<DapiEnv>();
  routes.get(relativePath(transactionOperations.inspect, TRANSACTIONS_PREFIX), guard(transactionOperations.inspect, source), async (c) => {
    const { transactionId } = parseParams(c, transactionParams);
    const found = await c.var.services.transactions.inspect(transactionId);
    if (!found) throw new DapiError("TRANSACTION_NOT_FOUND", `no transaction ${transactionId}`);
    return c.json(found);
  });
  routes.post(relativePath(transactionOperations.cancel, TRANSACTIONS_PREFIX), guard(transactionOperations.cancel, source), async (c) => {
    const { transactionId } = parseParams(c, transactionParams);
    const body = await parseJsonBody(c, cancelRequest);
    const reason = body.reason ?? `cancelled by ${c.var.principal.actorId}`;
    const result = await c.var.services.transactions.cancel(transactionId, reason);
    if (!result.accepted) {
      throw new DapiError("TRANSACTION_ALREADY_FINAL", `transaction ${transactionId} already ended (${result.phase}); nothing was cancelled`, { data: { phase: result.phase } });
    }
    c.var.logger.info("transaction cancellation requested", { transactionId, phase: result.phase, actorId: c.var.principal.actorId });
    return c.json({ acknowledged: true as const, transactionId, phase: result.phase });
  });
  routes.post(relativePath(transactionOperations.approve, TRANSACTIONS_PREFIX), guard(transactionOperations.approve, source), async (c) => {
    const { transactionId } = parseParams(c, transactionParams);
    const body = await parseJsonBody(c, approveTransactionRequestSchema);
    const counted = await c.var.services.transactions.approve(transactionId, body);
    c.var.logger.info("approval decision counted", { transactionId, approver: counted.approver, decision: counted.decision, actorId: c.var.principal.actorId });
    return c.json(counted);
  });
  return routes;
}
