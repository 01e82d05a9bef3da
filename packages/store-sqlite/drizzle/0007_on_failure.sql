ALTER TABLE `taskmill_tasks` ADD `on_failure` text;--> statement-breakpoint
ALTER TABLE `taskmill_tasks` ADD `keep_stage` integer DEFAULT 0 NOT NULL;