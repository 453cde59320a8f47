CREATE TABLE "recovery_invitations" (
	"id" text PRIMARY KEY NOT NULL,
	"organization_id" text NOT NULL,
	"chain_id" integer NOT NULL,
	"registry_address" text NOT NULL,
	"lost_wallet" text NOT NULL,
	"tokens" jsonb NOT NULL,
	"agent_address" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"new_wallet" text,
	"outcome" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "recovery_invitations_status_idx" ON "recovery_invitations" USING btree ("status","expires_at");