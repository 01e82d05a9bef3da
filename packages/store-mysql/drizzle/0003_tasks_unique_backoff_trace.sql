ALTER TABLE `taskmill_tasks` ADD `retry_backoff` varchar(16) DEFAULT 'fixed' NOT NULL;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `retry_max_interval` double;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `retry_jitter` double DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `unique_key` varchar(255);--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `unique_scope` varchar(16);--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `unique_until` bigint;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `unique_slot` varchar(255);--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `trace_context` varchar(1024);--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD CONSTRAINT `idx_task_unique` UNIQUE(`name`,`unique_slot`);