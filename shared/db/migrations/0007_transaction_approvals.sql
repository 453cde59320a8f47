CREATE TABLE "transaction_approvals" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"transaction_id" text NOT NULL,
	"approver" text NOT NULL,
	"decision" text NOT NULL,
	"signature" text NOT NULL,
	"decided_at" timestamp with time zone DEFAULT now() NOT NULL,
	"request_id" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "transaction_approvals" ADD CONSTRAINT "transaction_approvals_transaction_id_transactions_id_fk" FOREIGN KEY ("transaction_id") REFERENCES "public"."transactions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "transaction_approvals_transaction_approver_unique" ON "transaction_approvals" USING btree ("transaction_id","approver");--> statement-breakpoint
CREATE INDEX "transaction_approvals_transaction_idx" ON "transaction_approvals" USING btree ("transaction_id","decided_at");