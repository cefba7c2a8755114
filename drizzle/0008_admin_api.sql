ALTER TABLE `apps` ADD `updated_at` integer;--> statement-breakpoint
ALTER TABLE `client_binaries` ADD `updated_at` integer;--> statement-breakpoint
ALTER TABLE `directory_groups` ADD `updated_at` integer;--> statement-breakpoint
ALTER TABLE `directory_users` ADD `updated_at` integer;--> statement-breakpoint
ALTER TABLE `environments` ADD `updated_at` integer;--> statement-breakpoint
ALTER TABLE `publish_jobs` ADD `updated_at` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `deactivated_at` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `updated_at` integer;