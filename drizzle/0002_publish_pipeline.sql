CREATE TABLE `environment_signing_keys` (
	`environment_id` integer PRIMARY KEY NOT NULL,
	`public_key_pem` text NOT NULL,
	`private_key_pem` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `management_apps` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` integer NOT NULL,
	`environment_id` integer NOT NULL,
	`app_id` integer NOT NULL,
	`preview` integer NOT NULL,
	`workflow_state` text NOT NULL,
	`sign_action` text NOT NULL,
	`description` text,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `management_apps_env_app_preview_unique` ON `management_apps` (`environment_id`,`app_id`,`preview`);--> statement-breakpoint
CREATE TABLE `management_targets` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`management_app_id` integer NOT NULL,
	`user_id` integer,
	`group_id` integer,
	FOREIGN KEY (`management_app_id`) REFERENCES `management_apps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`user_id`) REFERENCES `directory_users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`group_id`) REFERENCES `directory_groups`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "management_targets_one_principal" CHECK(("management_targets"."user_id" is null) <> ("management_targets"."group_id" is null))
);
--> statement-breakpoint
CREATE INDEX `management_targets_app_idx` ON `management_targets` (`management_app_id`);--> statement-breakpoint
CREATE TABLE `management_versions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`management_app_id` integer NOT NULL,
	`platform` text NOT NULL,
	`version` text NOT NULL,
	`version_key` text NOT NULL,
	`binary_id` integer,
	`artifact_sha256` text NOT NULL,
	`signature` text NOT NULL,
	`wrapped` integer NOT NULL,
	`published_at` integer NOT NULL,
	`publish_job_id` integer,
	FOREIGN KEY (`management_app_id`) REFERENCES `management_apps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`binary_id`) REFERENCES `client_binaries`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`artifact_sha256`) REFERENCES `blobs`(`sha256`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`publish_job_id`) REFERENCES `publish_jobs`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `management_versions_app_platform_version_unique` ON `management_versions` (`management_app_id`,`platform`,`version_key`);--> statement-breakpoint
CREATE INDEX `management_versions_binary_idx` ON `management_versions` (`binary_id`);--> statement-breakpoint
CREATE INDEX `management_versions_artifact_idx` ON `management_versions` (`artifact_sha256`);--> statement-breakpoint
CREATE TABLE `publish_jobs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` integer NOT NULL,
	`tracking_number` integer NOT NULL,
	`app_id` integer NOT NULL,
	`environment_id` integer NOT NULL,
	`kind` text NOT NULL,
	`action` text NOT NULL,
	`sync` integer NOT NULL,
	`state` text NOT NULL,
	`requested_by` integer NOT NULL,
	`request` text NOT NULL,
	`warnings` text DEFAULT '[]' NOT NULL,
	`error_code` text,
	`error_message` text,
	`error_stage` text,
	`rollback` text,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`requested_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "publish_jobs_state_check" CHECK("publish_jobs"."state" in ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELING', 'CANCELED'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `publish_jobs_account_tracking_unique` ON `publish_jobs` (`account_id`,`tracking_number`);--> statement-breakpoint
CREATE UNIQUE INDEX `publish_jobs_one_active_per_environment` ON `publish_jobs` (`environment_id`) WHERE "publish_jobs"."state" in ('QUEUED', 'RUNNING', 'CANCELING');--> statement-breakpoint
CREATE INDEX `publish_jobs_account_created_idx` ON `publish_jobs` (`account_id`,`id`);--> statement-breakpoint
CREATE INDEX `publish_jobs_app_env_kind_idx` ON `publish_jobs` (`app_id`,`environment_id`,`kind`,`id`);--> statement-breakpoint
CREATE INDEX `publish_jobs_state_idx` ON `publish_jobs` (`state`);--> statement-breakpoint
CREATE TABLE `publish_stages` (
	`job_id` integer NOT NULL,
	`position` integer NOT NULL,
	`key` text NOT NULL,
	`title` text NOT NULL,
	`state` text NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`message` text,
	PRIMARY KEY(`job_id`, `position`),
	FOREIGN KEY (`job_id`) REFERENCES `publish_jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `store_notifications` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` integer NOT NULL,
	`directory_user_id` integer NOT NULL,
	`management_app_id` integer NOT NULL,
	`publish_job_id` integer,
	`message` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`directory_user_id`) REFERENCES `directory_users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`management_app_id`) REFERENCES `management_apps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`publish_job_id`) REFERENCES `publish_jobs`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `store_notifications_user_idx` ON `store_notifications` (`directory_user_id`,`id`);--> statement-breakpoint
CREATE INDEX `store_notifications_job_idx` ON `store_notifications` (`publish_job_id`);