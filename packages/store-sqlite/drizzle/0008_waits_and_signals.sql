CREATE TABLE `taskmill_task_signals` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`task_id` integer NOT NULL,
	`name` text NOT NULL,
	`data` text,
	`sent_at` integer NOT NULL,
	`consumed_at` integer
);
--> statement-breakpoint
CREATE INDEX `idx_task_signals_task_name` ON `taskmill_task_signals` (`task_id`,`name`,`id`);--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `wake_at` integer;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `awaited_signal` text;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `received_signal` text;--> statement-breakpoint
CREATE INDEX `idx_task_wake` ON `taskmill_tasks` (`wake_at`) WHERE wake_at IS NOT NULL;