CREATE TABLE `live_web_clients` (
	`app_id` integer NOT NULL,
	`environment_id` integer NOT NULL,
	`binary_id` integer,
	`artifact_sha256` text NOT NULL,
	`deployed_at` integer NOT NULL,
	`publish_job_id` integer,
	PRIMARY KEY(`app_id`, `environment_id`)
);
--> statement-breakpoint
CREATE INDEX `live_web_clients_artifact_idx` ON `live_web_clients` (`artifact_sha256`);--> statement-breakpoint
CREATE TABLE `management_apps` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`environment_id` integer NOT NULL,
	`app_id` integer NOT NULL,
	`preview` integer NOT NULL,
	`workflow_state` text NOT NULL,
	`sign_action` text NOT NULL,
	`description` text,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `management_apps_env_app_preview_unique` ON `management_apps` (`environment_id`,`app_id`,`preview`);--> statement-breakpoint
CREATE TABLE `management_targets` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`management_app_id` integer NOT NULL,
	`user_id` integer,
	`group_id` integer,
	FOREIGN KEY (`management_app_id`) REFERENCES `management_apps`(`id`) ON UPDATE no action ON DELETE cascade,
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
	FOREIGN KEY (`management_app_id`) REFERENCES `management_apps`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `management_versions_app_platform_version_unique` ON `management_versions` (`management_app_id`,`platform`,`version_key`);--> statement-breakpoint
CREATE INDEX `management_versions_binary_idx` ON `management_versions` (`binary_id`);--> statement-breakpoint
CREATE INDEX `management_versions_artifact_idx` ON `management_versions` (`artifact_sha256`);--> statement-breakpoint
CREATE TABLE `published_app_services` (
	`app_id` integer NOT NULL,
	`environment_id` integer NOT NULL,
	`identity_services` text NOT NULL,
	`published_at` integer NOT NULL,
	`activated_at` integer,
	`publish_job_id` integer,
	PRIMARY KEY(`app_id`, `environment_id`)
);
--> statement-breakpoint
CREATE INDEX `published_app_services_env_idx` ON `published_app_services` (`environment_id`);--> statement-breakpoint
CREATE TABLE `published_identity_services` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`environment_id` integer NOT NULL,
	`name` text NOT NULL,
	`provider_type` text NOT NULL,
	`published_by_app_id` integer NOT NULL,
	`published_at` integer NOT NULL,
	`publish_job_id` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `published_identity_services_env_name_unique` ON `published_identity_services` (`environment_id`,lower("name"));--> statement-breakpoint
CREATE TABLE `runtime_blobs` (
	`sha256` text PRIMARY KEY NOT NULL,
	`size_bytes` integer NOT NULL,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `runtime_commands` (
	`key` text PRIMARY KEY NOT NULL,
	`environment_id` integer NOT NULL,
	`type` text NOT NULL,
	`result` text NOT NULL,
	`applied_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `runtime_restore_points` (
	`key` text PRIMARY KEY NOT NULL,
	`environment_id` integer NOT NULL,
	`image` text NOT NULL,
	`held` text DEFAULT '[]' NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `runtime_restore_points_env_idx` ON `runtime_restore_points` (`environment_id`);--> statement-breakpoint
CREATE TABLE `store_notifications` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`environment_id` integer DEFAULT 0 NOT NULL,
	`directory_user_id` integer NOT NULL,
	`management_app_id` integer NOT NULL,
	`publish_job_id` integer,
	`message` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`management_app_id`) REFERENCES `management_apps`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `store_notifications_user_idx` ON `store_notifications` (`environment_id`,`directory_user_id`,`id`);--> statement-breakpoint
CREATE INDEX `store_notifications_job_idx` ON `store_notifications` (`publish_job_id`);--> statement-breakpoint
CREATE TABLE `runtime_environments` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`path` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `runtime_environments_path_unique` ON `runtime_environments` (`path`);