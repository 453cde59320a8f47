/**
 * Asset issuances: the request each AssetIssuanceWorkflow was started with, the stage it has
 * reached, the token once deployed, and how it ended. The request is stored before the workflow
 * starts, so a second submission of the same id can be compared with the first.
 */
import { index, integer, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

export const assetIssuances = pgTable(
  "asset_issuances",
  {
    /** The issuance id; also the key of AssetIssuanceWorkflow and the prefix of its transaction ids. */
    id: text().primaryKey(),
    organizationId: text().notNull(),
    chainId: integer().notNull(),
    /** The issuer's signer, which deploys the token and signs every step. */
    issuerAddress: text().notNull(),
    /** The validated request, as the workflow received it. */
    request: jsonb().$type<Record<string, unknown>>().notNull(),
    /** `submitted` until the workflow records its first stage. */
    stage: text().notNull().default("submitted"),
    tokenAddress: text(),
    /** Final steps, compensation and error, written when the issuance ends. */
    outcome: jsonb().$type<Record<string, unknown>>(),
    createdAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [index("asset_issuances_stage_idx").on(table.stage, table.updatedAt)],
);
