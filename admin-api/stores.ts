/**
 * The DAPI's records, behind small interfaces: API keys (authentication), operations audit rows,
 * dead letters. `createDatabaseStores` backs them with the shared repositories; unit tests pass
 * in-memory fakes, so validation and envelopes are tested without a database.
 */
import type { Database } from "../shared/db/client.ts";
import { findApiKeyByPlaintext, touchApiKey } from "../shared/db/repositories/api-keys.ts";
import { finishAuditEntry, insertAuditEntry, listAuditEntries, type AuditCursor, type AuditEntryRow, type ListAuditEntriesParameters } from "../shared/db/repositories/audit-log.ts";
import { listApprovals, type ApprovalCursor, type ApprovalRow } from "../shared/db/repositories/approvals.ts";
import type { ApprovalState } from "../shared/signers/approval.ts";
import { getDeadLetter, listDeadLetters, markDeadLetterReplayed, type DeadLetterRow } from "../shared/db/repositories/dead-letters.ts";
import type { AuditOutcome, DeadLetterKind, DeadLetterStatus } from "../shared/db/schema/index.ts";

export type StoredApiKey = { id: string; actorId: string; role: string; permissions: string[] };

export type ApiKeyStore = {
  /** The active key whose hash matches, compared in constant time; undefined otherwise. */
  findByPlaintext(plaintext: string): Promise<StoredApiKey | undefined>;
  touch(id: string): Promise<void>;
};

export type AuditStart = {
  requestId: string;
  actorId: string;
  actorRole: string;
  route: string;
  arguments: Record<string, unknown>;
  reason: string | null;
  startedAt: Date;
};

export type AuditFinish = { finishedAt: Date; outcome: AuditOutcome; errorCode: string | null; errorMessage: string | null };

export type AuditListFilter = ListAuditEntriesParameters;

export type AuditStore = {
  start(entry: AuditStart): Promise<{ id: string }>;
  finish(id: string, result: AuditFinish): Promise<void>;
  list(filter: AuditListFilter): Promise<{ entries: AuditEntryRow[]; nextCursor: AuditCursor | null }>;
};

export type DeadLetterStore = {
  list(filter: { kind?: DeadLetterKind | undefined; status?: DeadLetterStatus | undefined; limit: number }): Promise<DeadLetterRow[]>;
  get(id: string): Promise<DeadLetterRow | undefined>;
  /** False when the letter was no longer open (replayed or discarded meanwhile). */
  markReplayed(id: string, at: Date): Promise<boolean>;
};

export type ApprovalStore = {
  list(filter: { state: ApprovalState; limit: number; after?: ApprovalCursor | undefined }): Promise<{ rows: ApprovalRow[]; nextCursor: ApprovalCursor | null }>;
};

export type DapiStores = { apiKeys: ApiKeyStore; audit: AuditStore; deadLetters: DeadLetterStore; approvals: ApprovalStore };

export function createDatabaseStores(db: Database): DapiStores {
  return {
    apiKeys: {
      findByPlaintext: async (plaintext) => {
        const row = await findApiKeyByPlaintext(db, plaintext);
        return row && { id: row.id, actorId: row.actorId, role: row.role, permissions: row.permissions };
      },
      touch: (id) => touchApiKey(db, id),
    },
    audit: {
      start: async (entry) => ({ id: (await insertAuditEntry(db, entry)).id }),
      finish: (id, result) => finishAuditEntry(db, id, result),
      list: (filter) => listAuditEntries(db, filter),
    },
    deadLetters: {
      list: (filter) => listDeadLetters(db, filter),
      get: (id) => getDeadLetter(db, id),
      markReplayed: (id, at) => markDeadLetterReplayed(db, id, at),
    },
    approvals: { list: (filter) => listApprovals(db, filter) },
  };
}
