DROP INDEX `environments_url_unique`;--> statement-breakpoint
CREATE UNIQUE INDEX `environments_account_url_unique` ON `environments` (`account_id`,`url`);--> statement-breakpoint
DROP INDEX `users_email_unique`;--> statement-breakpoint
CREATE UNIQUE INDEX `users_account_email_unique` ON `users` (`account_id`,lower("email"));--> statement-breakpoint
ALTER TABLE `api_tokens` ADD `expires_at` integer;