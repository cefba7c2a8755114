DROP INDEX `store_notifications_user_idx`;--> statement-breakpoint
ALTER TABLE `store_notifications` ADD `environment_id` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `store_notifications_user_idx` ON `store_notifications` (`environment_id`,`directory_user_id`,`id`);