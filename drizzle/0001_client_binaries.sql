CREATE TABLE `binary_uploads` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` integer NOT NULL,
	`app_id` integer NOT NULL,
	`platform` text NOT NULL,
	`file_name` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`token_sha256` text NOT NULL,
	`expires_at` integer NOT NULL,
	`received_bytes` integer DEFAULT 0 NOT NULL,
	`sha256` text,
	`completed_at` integer,
	`client_binary_id` integer,
	`used_at` integer,
	`created_by` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`sha256`) REFERENCES `blobs`(`sha256`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`client_binary_id`) REFERENCES `client_binaries`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`created_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `binary_uploads_token_sha256_unique` ON `binary_uploads` (`token_sha256`);--> statement-breakpoint
CREATE INDEX `binary_uploads_sha256_idx` ON `binary_uploads` (`sha256`);--> statement-breakpoint
CREATE TABLE `blobs` (
	`sha256` text PRIMARY KEY NOT NULL,
	`size_bytes` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `client_binaries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` integer NOT NULL,
	`app_id` integer NOT NULL,
	`platform` text NOT NULL,
	`version` text NOT NULL,
	`version_key` text NOT NULL,
	`list_key` text NOT NULL,
	`description` text,
	`file_name` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`sha256` text NOT NULL,
	`bundle_id` text,
	`uploaded_by` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`sha256`) REFERENCES `blobs`(`sha256`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`uploaded_by`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "client_binaries_platform_check" CHECK("client_binaries"."platform" in ('IOS_PHONE', 'IOS_TABLET', 'ANDROID_PHONE', 'ANDROID_TABLET', 'WINDOWS', 'WEB'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `client_binaries_app_platform_version_unique` ON `client_binaries` (`app_id`,`platform`,`version_key`);--> statement-breakpoint
CREATE INDEX `client_binaries_app_list_idx` ON `client_binaries` (`app_id`,`list_key`,`id`);--> statement-breakpoint
CREATE INDEX `client_binaries_sha256_idx` ON `client_binaries` (`sha256`);