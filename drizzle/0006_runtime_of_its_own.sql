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
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_live_web_clients` (
	`app_id` integer NOT NULL,
	`environment_id` integer NOT NULL,
	`binary_id` integer,
	`artifact_sha256` text NOT NULL,
	`deployed_at` integer NOT NULL,
	`publish_job_id` integer,
	PRIMARY KEY(`app_id`, `environment_id`)
);
--> statement-breakpoint
INSERT INTO `__new_live_web_clients`("app_id", "environment_id", "binary_id", "artifact_sha256", "deployed_at", "publish_job_id") SELECT "app_id", "environment_id", "binary_id", "artifact_sha256", "deployed_at", "publish_job_id" FROM `live_web_clients`;--> statement-breakpoint
DROP TABLE `live_web_clients`;--> statement-breakpoint
ALTER TABLE `__new_live_web_clients` RENAME TO `live_web_clients`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `live_web_clients_artifact_idx` ON `live_web_clients` (`artifact_sha256`);--> statement-breakpoint
CREATE TABLE `__new_management_apps` (
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
INSERT INTO `__new_management_apps`("id", "environment_id", "app_id", "preview", "workflow_state", "sign_action", "description", "updated_at") SELECT "id", "environment_id", "app_id", "preview", "workflow_state", "sign_action", "description", "updated_at" FROM `management_apps`;--> statement-breakpoint
DROP TABLE `management_apps`;--> statement-breakpoint
ALTER TABLE `__new_management_apps` RENAME TO `management_apps`;--> statement-breakpoint
CREATE UNIQUE INDEX `management_apps_env_app_preview_unique` ON `management_apps` (`environment_id`,`app_id`,`preview`);--> statement-breakpoint
CREATE TABLE `__new_management_targets` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`management_app_id` integer NOT NULL,
	`user_id` integer,
	`group_id` integer,
	FOREIGN KEY (`management_app_id`) REFERENCES `management_apps`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "management_targets_one_principal" CHECK(("__new_management_targets"."user_id" is null) <> ("__new_management_targets"."group_id" is null))
);
--> statement-breakpoint
INSERT INTO `__new_management_targets`("id", "management_app_id", "user_id", "group_id") SELECT "id", "management_app_id", "user_id", "group_id" FROM `management_targets`;--> statement-breakpoint
DROP TABLE `management_targets`;--> statement-breakpoint
ALTER TABLE `__new_management_targets` RENAME TO `management_targets`;--> statement-breakpoint
CREATE INDEX `management_targets_app_idx` ON `management_targets` (`management_app_id`);--> statement-breakpoint
CREATE TABLE `__new_management_versions` (
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
INSERT INTO `__new_management_versions`("id", "management_app_id", "platform", "version", "version_key", "binary_id", "artifact_sha256", "signature", "wrapped", "published_at", "publish_job_id") SELECT "id", "management_app_id", "platform", "version", "version_key", "binary_id", "artifact_sha256", "signature", "wrapped", "published_at", "publish_job_id" FROM `management_versions`;--> statement-breakpoint
DROP TABLE `management_versions`;--> statement-breakpoint
ALTER TABLE `__new_management_versions` RENAME TO `management_versions`;--> statement-breakpoint
CREATE UNIQUE INDEX `management_versions_app_platform_version_unique` ON `management_versions` (`management_app_id`,`platform`,`version_key`);--> statement-breakpoint
CREATE INDEX `management_versions_binary_idx` ON `management_versions` (`binary_id`);--> statement-breakpoint
CREATE INDEX `management_versions_artifact_idx` ON `management_versions` (`artifact_sha256`);--> statement-breakpoint
CREATE TABLE `__new_published_app_services` (
	`app_id` integer NOT NULL,
	`environment_id` integer NOT NULL,
	`identity_services` text NOT NULL,
	`published_at` integer NOT NULL,
	`activated_at` integer,
	`publish_job_id` integer,
	PRIMARY KEY(`app_id`, `environment_id`)
);
--> statement-breakpoint
INSERT INTO `__new_published_app_services`("app_id", "environment_id", "identity_services", "published_at", "activated_at", "publish_job_id") SELECT "app_id", "environment_id", "identity_services", "published_at", "activated_at", "publish_job_id" FROM `published_app_services`;--> statement-breakpoint
DROP TABLE `published_app_services`;--> statement-breakpoint
ALTER TABLE `__new_published_app_services` RENAME TO `published_app_services`;--> statement-breakpoint
CREATE INDEX `published_app_services_env_idx` ON `published_app_services` (`environment_id`);--> statement-breakpoint
CREATE TABLE `__new_published_identity_services` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`environment_id` integer NOT NULL,
	`name` text NOT NULL,
	`provider_type` text NOT NULL,
	`published_by_app_id` integer NOT NULL,
	`published_at` integer NOT NULL,
	`publish_job_id` integer
);
--> statement-breakpoint
INSERT INTO `__new_published_identity_services`("id", "environment_id", "name", "provider_type", "published_by_app_id", "published_at", "publish_job_id") SELECT "id", "environment_id", "name", "provider_type", "published_by_app_id", "published_at", "publish_job_id" FROM `published_identity_services`;--> statement-breakpoint
DROP TABLE `published_identity_services`;--> statement-breakpoint
ALTER TABLE `__new_published_identity_services` RENAME TO `published_identity_services`;--> statement-breakpoint
CREATE UNIQUE INDEX `published_identity_services_env_name_unique` ON `published_identity_services` (`environment_id`,lower("name"));--> statement-breakpoint
CREATE TABLE `__new_store_notifications` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`directory_user_id` integer NOT NULL,
	`management_app_id` integer NOT NULL,
	`publish_job_id` integer,
	`message` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`management_app_id`) REFERENCES `management_apps`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
INSERT INTO `__new_store_notifications`("id", "directory_user_id", "management_app_id", "publish_job_id", "message", "created_at") SELECT "id", "directory_user_id", "management_app_id", "publish_job_id", "message", "created_at" FROM `store_notifications`;--> statement-breakpoint
DROP TABLE `store_notifications`;--> statement-breakpoint
ALTER TABLE `__new_store_notifications` RENAME TO `store_notifications`;--> statement-breakpoint
CREATE INDEX `store_notifications_user_idx` ON `store_notifications` (`directory_user_id`,`id`);--> statement-breakpoint
CREATE INDEX `store_notifications_job_idx` ON `store_notifications` (`publish_job_id`);--> statement-breakpoint
ALTER TABLE `environments` ADD `status_reason` text;--> statement-breakpoint
ALTER TABLE `environments` ADD `runtime_token` text;