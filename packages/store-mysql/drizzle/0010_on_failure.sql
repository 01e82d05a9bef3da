ALTER TABLE `taskmill_tasks` ADD `on_failure` varchar(16);--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `keep_stage` int DEFAULT 0 NOT NULL;