CREATE TABLE `taskmill_task_signals` (
	`id` bigint AUTO_INCREMENT NOT NULL,
	`task_id` bigint NOT NULL,
	`name` varchar(255) NOT NULL,
	`data` longtext,
	`sent_at` bigint NOT NULL,
	`consumed_at` bigint,
	CONSTRAINT `taskmill_task_signals_id` PRIMARY KEY(`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `wake_at` bigint;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `awaited_signal` varchar(255);--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `received_signal` longtext;--> statement-breakpoint
CREATE INDEX `idx_task_signals_task_name` ON `taskmill_task_signals` (`task_id`,`name`,`id`);--> statement-breakpoint
CREATE INDEX `idx_task_wake` ON `taskmill_tasks` (`wake_at`);