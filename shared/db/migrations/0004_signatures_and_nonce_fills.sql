CREATE TABLE "nonce_fills" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"chain_id" integer NOT NULL,
	"organization_id" text NOT NULL,
	"signer_address" text NOT NULL,
	"nonce" integer NOT NULL,
	"hash" text NOT NULL,
	"reason" text NOT NULL,
	"transaction_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "transaction_signatures" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"transaction_id" text NOT NULL,
	"nonce" integer NOT NULL,
	"hash" text NOT NULL,
	"raw" text NOT NULL,
	"max_fee_per_gas" text NOT NULL,
	"max_priority_fee_per_gas" text NOT NULL,
	"kind" text NOT NULL,
	"refused_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DROP INDEX "transactions_idempotency_key_unique";--> statement-breakpoint
ALTER TABLE "transaction_transitions" ADD COLUMN "key" text;--> statement-breakpoint
UPDATE "transaction_transitions" SET "key" = 'before-0004/' || "sequence";--> statement-breakpoint
ALTER TABLE "transaction_transitions" ALTER COLUMN "key" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "transaction_transitions" ADD COLUMN "reason" text;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "block_hash" text;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "cancel_requested_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "cancel_reason" text;--> statement-breakpoint
ALTER TABLE "transaction_signatures" ADD CONSTRAINT "transaction_signatures_transaction_id_transactions_id_fk" FOREIGN KEY ("transaction_id") REFERENCES "public"."transactions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "nonce_fills_sender_nonce_unique" ON "nonce_fills" USING btree ("chain_id","signer_address","nonce");--> statement-breakpoint
CREATE UNIQUE INDEX "transaction_signatures_hash_unique" ON "transaction_signatures" USING btree ("hash");--> statement-breakpoint
CREATE INDEX "transaction_signatures_transaction_idx" ON "transaction_signatures" USING btree ("transaction_id");--> statement-breakpoint
CREATE UNIQUE INDEX "transaction_transitions_key_unique" ON "transaction_transitions" USING btree ("transaction_id","key");--> statement-breakpoint
CREATE UNIQUE INDEX "transactions_organization_idempotency_key_unique" ON "transactions" USING btree ("organization_id","idempotency_key");