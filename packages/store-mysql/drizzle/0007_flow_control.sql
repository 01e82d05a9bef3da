CREATE TABLE `taskmill_paused_names` (
	`name` varchar(255) NOT NULL,
	`paused_at` bigint NOT NULL,
	`paused_by` varchar(255),
	`reason` text,
	CONSTRAINT `taskmill_paused_names_name` PRIMARY KEY(`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
--> statement-breakpoint
ALTER TABLE `taskmill_task_attempts` ADD `name` varchar(255);--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `concurrency_key` varchar(255);--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `claim_key` varbinary(1021) GENERATED ALWAYS AS (CASE WHEN `status` IN ('pending', 'failed', 'timeout') THEN CAST(IF(`concurrency_key` IS NULL, '', CONCAT('k', `concurrency_key`)) AS BINARY) END) STORED;--> statement-breakpoint
CREATE INDEX `idx_task_attempts_name_started` ON `taskmill_task_attempts` (`name`,`started_at`);--> statement-breakpoint
CREATE INDEX `idx_task_claim_key` ON `taskmill_tasks` (`name`,`claim_key`,`priority` DESC,`next_run_time`,`id`);