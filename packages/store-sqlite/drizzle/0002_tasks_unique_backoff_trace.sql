ALTER TABLE `taskmill_tasks` ADD `retry_backoff` text DEFAULT 'fixed' NOT NULL;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `retry_max_interval` real;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `retry_jitter` real DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `unique_key` text;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `unique_scope` text;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `unique_until` integer;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `unique_slot` text;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `trace_context` text;--> statement-breakpoint
CREATE UNIQUE INDEX `idx_task_unique` ON `taskmill_tasks` (`name`,`unique_slot`) WHERE unique_slot IS NOT NULL;