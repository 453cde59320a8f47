/**
 * Smart-account nonces claimed by ddwf's transactions. A claim is the transaction row's
 * `user_operation_nonce`; the partial unique index lets one open transaction hold a nonce, so two
 * preparations that pick the same one at the same moment cannot both keep it: the loser picks again.
 */
import { and, eq, isNotNull, isNull, notInArray } from "drizzle-orm";
import { nextUserOperationNonce } from "../../evm/erc4337/user-operation-nonce.ts";
import type { Database } from "../client.ts";
import { transactions } from "../schema/index.ts";
import { isUniqueViolation } from "../unique-violation.ts";

/** Phases in which a transaction has given its nonce up (the index's predicate says the same). */
const RELEASED_PHASES = ["completed", "failed"] as const;

const MAX_CLAIM_ATTEMPTS = 64;

export type ClaimUserOperationNonceParameters = {
  transactionId: string;
  chainId: number;
  /** The smart account (the transaction's signer address). */
  account: string;
  /** The EntryPoint's nonce of the account now (key 0). */
  entryPointNonce: bigint;
};

/**
 * The nonce this transaction's user operation takes: the one it claimed already (a retried step
 * answers the same), else the lowest free one at or above the EntryPoint's, claimed atomically.
 */
export async function claimUserOperationNonce(db: Database, parameters: ClaimUserOperationNonceParameters): Promise<bigint> {
  const { transactionId, chainId, entryPointNonce } = parameters;
  const account = parameters.account.toLowerCase();
  for (let attempt = 0; attempt < MAX_CLAIM_ATTEMPTS; attempt++) {
    const [own] = await db.select({ nonce: transactions.userOperationNonce }).from(transactions).where(eq(transactions.id, transactionId)).limit(1);
    if (!own) throw new Error(`transaction ${transactionId} is not stored; it cannot claim a nonce`);
    if (own.nonce !== null) return own.nonce;
    const held = (await listHeldUserOperationNonces(db, { chainId, account })).filter((claim) => claim.transactionId !== transactionId);
    const candidate = nextUserOperationNonce(entryPointNonce, held.map((claim) => claim.nonce));
    try {
      await db.update(transactions).set({ userOperationNonce: candidate, updatedAt: new Date() }).where(and(eq(transactions.id, transactionId), isNull(transactions.userOperationNonce)));
    } catch (error) {
      // Another open transaction of the account claimed it between the read and this write.
      if (isUniqueViolation(error)) continue;
      throw error;
    }
  }
  throw new Error(`transaction ${transactionId} found no free nonce of account ${account} after ${MAX_CLAIM_ATTEMPTS} attempts`);
}

/** The nonces the account's open transactions hold, lowest first. */
export async function listHeldUserOperationNonces(db: Database, filter: { chainId: number; account: string }): Promise<{ transactionId: string; nonce: bigint }[]> {
  const rows = await db
    .select({ transactionId: transactions.id, nonce: transactions.userOperationNonce })
    .from(transactions)
    .where(and(eq(transactions.chainId, filter.chainId), eq(transactions.signerAddress, filter.account.toLowerCase()), isNotNull(transactions.userOperationNonce), notInArray(transactions.phase, [...RELEASED_PHASES])))
    .orderBy(transactions.userOperationNonce);
  return rows.map((row) => ({ transactionId: row.transactionId, nonce: row.nonce! }));
}
