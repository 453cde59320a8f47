/** Identity-recovery invitations: an investor who lost a wallet is invited to name a new one. */
import { index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

export const RECOVERY_INVITATION_STATUSES = ["pending", "accepted", "completed", "expired", "cancelled", "failed"] as const;
export type RecoveryInvitationStatus = (typeof RECOVERY_INVITATION_STATUSES)[number];

export const recoveryInvitations = pgTable(
  "recovery_invitations",
  {
    /** `invitation_<ulid>`; also the key of IdentityRecoveryWorkflow. */
    id: text().primaryKey(),
    organizationId: text().notNull(),
    chainId: integer().notNull(),
    /** IdentityRegistry contract. */
    registryAddress: text().notNull(),
    lostWallet: text().notNull(),
    /** Permissioned tokens whose balances move with the identity. */
    tokens: jsonb().$type<string[]>().notNull(),
    /** The registry's and tokens' agent, which signs every recovery step. */
    agentAddress: text().notNull(),
    expiresAt: timestamp({ withTimezone: true, mode: "date" }).notNull(),
    status: text().$type<RecoveryInvitationStatus>().notNull().default("pending"),
    newWallet: text(),
    outcome: jsonb().$type<Record<string, unknown>>(),
    createdAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [index("recovery_invitations_status_idx").on(table.status, table.expiresAt)],
);
