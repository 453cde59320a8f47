CREATE TABLE "asset_issuances" (
	"id" text PRIMARY KEY NOT NULL,
	"organization_id" text NOT NULL,
	"chain_id" integer NOT NULL,
	"issuer_address" text NOT NULL,
	"request" jsonb NOT NULL,
	"stage" text DEFAULT 'submitted' NOT NULL,
	"token_address" text,
	"outcome" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "asset_issuances_stage_idx" ON "asset_issuances" USING btree ("stage","updated_at");