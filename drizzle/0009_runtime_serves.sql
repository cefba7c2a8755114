CREATE TABLE `app_client_credentials` (
	`app_id` integer NOT NULL,
	`environment_id` integer NOT NULL,
	`app_key` text NOT NULL,
	`secret_encrypted` text NOT NULL,
	`rotated_at` integer NOT NULL,
	PRIMARY KEY(`app_id`, `environment_id`),
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `app_integration_services` (
	`app_id` integer NOT NULL,
	`name` text NOT NULL,
	`base_url` text NOT NULL,
	`position` integer NOT NULL,
	PRIMARY KEY(`app_id`, `name`),
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `store_invitations` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`directory_user_id` integer NOT NULL,
	`token_sha256` text NOT NULL,
	`token_encrypted` text NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`directory_user_id`) REFERENCES `directory_users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `store_invitations_token_sha256_unique` ON `store_invitations` (`token_sha256`);--> statement-breakpoint
CREATE INDEX `store_invitations_user_idx` ON `store_invitations` (`directory_user_id`);--> statement-breakpoint
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