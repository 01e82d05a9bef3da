ALTER TABLE `taskmill_tasks` MODIFY COLUMN `timeout` double NOT NULL DEFAULT 60;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` MODIFY COLUMN `retry_interval` double NOT NULL DEFAULT 0;