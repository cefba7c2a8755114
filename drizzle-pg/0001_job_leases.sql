CREATE TABLE "leases" (
	"name" text PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "publish_jobs" ADD COLUMN "lease_owner" text;--> statement-breakpoint
ALTER TABLE "publish_jobs" ADD COLUMN "lease_expires_at" bigint;--> statement-breakpoint
ALTER TABLE "publish_jobs" ADD COLUMN "rollback_wait" text;