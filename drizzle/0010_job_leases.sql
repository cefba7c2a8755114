CREATE TABLE `leases` (
	`name` text PRIMARY KEY NOT NULL,
	`owner` text NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `publish_jobs` ADD `lease_owner` text;--> statement-breakpoint
ALTER TABLE `publish_jobs` ADD `lease_expires_at` integer;--> statement-breakpoint
ALTER TABLE `publish_jobs` ADD `rollback_wait` text;