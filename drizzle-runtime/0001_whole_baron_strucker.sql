CREATE TABLE `app_credentials` (
	`app_id` integer NOT NULL,
	`environment_id` integer NOT NULL,
	`app_key` text NOT NULL,
	`secret_sha256` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`app_id`, `environment_id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `app_credentials_key_unique` ON `app_credentials` (`environment_id`,`app_key`);--> statement-breakpoint
CREATE TABLE `store_access` (
	`invitation_id` integer NOT NULL,
	`environment_id` integer NOT NULL,
	`directory_user_id` integer NOT NULL,
	`token_sha256` text NOT NULL,
	`group_ids` text NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked` integer DEFAULT false NOT NULL,
	PRIMARY KEY(`environment_id`, `invitation_id`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `store_access_token_unique` ON `store_access` (`token_sha256`);--> statement-breakpoint
ALTER TABLE `management_apps` ADD `app_name` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `management_versions` ADD `bundle_id` text;--> statement-breakpoint
ALTER TABLE `published_app_services` ADD `app_name` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `published_app_services` ADD `integration_services` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
CREATE INDEX `published_app_services_name_idx` ON `published_app_services` (`environment_id`,lower("app_name"));--> statement-breakpoint
ALTER TABLE `store_notifications` ADD `store_path` text;