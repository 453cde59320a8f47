ALTER TABLE "transactions" ADD COLUMN "user_operation_nonce" numeric;--> statement-breakpoint
-- Smart-wallet transactions prepared before this column hold the nonce their stored user operation
-- names; of two open ones that picked the same nonce, the older keeps it.
UPDATE "transactions" AS t SET "user_operation_nonce" = (t."approval"->'userOperation'->>'nonce')::numeric
WHERE t."approval"->'userOperation'->>'nonce' IS NOT NULL
  AND NOT (t."phase" NOT IN ('completed', 'failed') AND EXISTS (
    SELECT 1 FROM "transactions" AS o
    WHERE o."chain_id" = t."chain_id" AND o."signer_address" = t."signer_address"
      AND o."approval"->'userOperation'->>'nonce' = t."approval"->'userOperation'->>'nonce'
      AND o."phase" NOT IN ('completed', 'failed')
      AND (o."created_at", o."id") < (t."created_at", t."id")
  ));--> statement-breakpoint
CREATE UNIQUE INDEX "transactions_user_operation_nonce_unique" ON "transactions" USING btree ("chain_id","signer_address","user_operation_nonce") WHERE "transactions"."user_operation_nonce" is not null and "transactions"."phase" not in ('completed', 'failed');
