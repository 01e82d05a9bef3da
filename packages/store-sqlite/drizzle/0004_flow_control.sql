CREATE TABLE `taskmill_paused_names` (
	`name` text PRIMARY KEY NOT NULL,
	`paused_at` integer NOT NULL,
	`paused_by` text,
	`reason` text
);
--> statement-breakpoint
ALTER TABLE `taskmill_task_attempts` ADD `name` text;--> statement-breakpoint
CREATE INDEX `idx_task_attempts_name_started` ON `taskmill_task_attempts` (`name`,`started_at`);--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `concurrency_key` text;--> statement-breakpoint
CREATE INDEX `idx_task_claim_key` ON `taskmill_tasks` (`name`,`concurrency_key`,"priority" DESC,`next_run_time`,`id`) WHERE status IN ('pending', 'failed', 'timeout');