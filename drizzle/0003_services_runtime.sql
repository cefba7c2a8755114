CREATE TABLE `live_web_clients` (
	`app_id` integer NOT NULL,
	`environment_id` integer NOT NULL,
	`binary_id` integer,
	`artifact_sha256` text NOT NULL,
	`deployed_at` integer NOT NULL,
	`publish_job_id` integer,
	PRIMARY KEY(`app_id`, `environment_id`),
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`binary_id`) REFERENCES `client_binaries`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`artifact_sha256`) REFERENCES `blobs`(`sha256`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`publish_job_id`) REFERENCES `publish_jobs`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `live_web_clients_artifact_idx` ON `live_web_clients` (`artifact_sha256`);--> statement-breakpoint
CREATE TABLE `published_app_services` (
	`app_id` integer NOT NULL,
	`environment_id` integer NOT NULL,
	`identity_services` text NOT NULL,
	`published_at` integer NOT NULL,
	`activated_at` integer,
	`publish_job_id` integer,
	PRIMARY KEY(`app_id`, `environment_id`),
	FOREIGN KEY (`app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`publish_job_id`) REFERENCES `publish_jobs`(`id`) ON UPDATE no action ON DELETE set null
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
	`publish_job_id` integer,
	FOREIGN KEY (`environment_id`) REFERENCES `environments`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`published_by_app_id`) REFERENCES `apps`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`publish_job_id`) REFERENCES `publish_jobs`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `published_identity_services_env_name_unique` ON `published_identity_services` (`environment_id`,lower("name"));