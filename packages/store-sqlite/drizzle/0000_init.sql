CREATE TABLE `taskmill_task_attempts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`task_id` integer NOT NULL,
	`attempt` integer NOT NULL,
	`worker_id` text,
	`started_at` integer NOT NULL,
	`ended_at` integer,
	`outcome` text,
	`error` text,
	`timeout_flag` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `idx_task_attempts_task_attempt` ON `taskmill_task_attempts` (`task_id`,`attempt`);--> statement-breakpoint
CREATE INDEX `idx_task_attempts_task_open` ON `taskmill_task_attempts` (`task_id`,`ended_at`,`attempt`);--> statement-breakpoint
CREATE INDEX `idx_task_attempts_worker_started` ON `taskmill_task_attempts` (`worker_id`,`started_at`);--> statement-breakpoint
CREATE INDEX `idx_task_attempts_outcome_started` ON `taskmill_task_attempts` (`outcome`,`started_at`);--> statement-breakpoint
CREATE TABLE `taskmill_task_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`task_id` integer NOT NULL,
	`root_id` integer,
	`parent_id` integer,
	`event_type` text NOT NULL,
	`from_status` text,
	`to_status` text,
	`stage` integer,
	`worker_id` text,
	`attempt` integer,
	`event_time` integer NOT NULL,
	`message` text,
	`metadata` text
);
--> statement-breakpoint
CREATE INDEX `idx_task_events_task_time` ON `taskmill_task_events` (`task_id`,`event_time`);--> statement-breakpoint
CREATE INDEX `idx_task_events_root_time` ON `taskmill_task_events` (`root_id`,`event_time`);--> statement-breakpoint
CREATE INDEX `idx_task_events_parent_time` ON `taskmill_task_events` (`parent_id`,`event_time`);--> statement-breakpoint
CREATE INDEX `idx_task_events_type_time` ON `taskmill_task_events` (`event_type`,`event_time`);--> statement-breakpoint
CREATE INDEX `idx_task_events_worker_time` ON `taskmill_task_events` (`worker_id`,`event_time`);--> statement-breakpoint
CREATE INDEX `idx_task_events_stage_time` ON `taskmill_task_events` (`stage`,`event_time`);--> statement-breakpoint
CREATE INDEX `idx_task_events_attempt_time` ON `taskmill_task_events` (`attempt`,`event_time`);--> statement-breakpoint
CREATE TABLE `taskmill_tasks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`payload` text,
	`created_at` integer NOT NULL,
	`tag` text,
	`status` text DEFAULT 'pending' NOT NULL,
	`next_run_time` integer NOT NULL,
	`last_active_time` integer,
	`last_event_time` integer,
	`last_event_type` text,
	`result` text,
	`error` text,
	`current_stage_name` text,
	`progress_text` text,
	`progress_percent` real,
	`stage` integer DEFAULT 0 NOT NULL,
	`timeout` integer DEFAULT 60 NOT NULL,
	`retry_count` integer DEFAULT 0 NOT NULL,
	`max_retries` integer DEFAULT 3 NOT NULL,
	`retry_interval` integer DEFAULT 0 NOT NULL,
	`cron_expr` text,
	`cron_tz` text,
	`root_id` integer,
	`parent_id` integer,
	`total_children` integer DEFAULT 0 NOT NULL,
	`completed_children` integer DEFAULT 0 NOT NULL,
	`worker_id` text,
	`start_time` integer,
	`context` blob,
	`attempt` integer DEFAULT 0 NOT NULL,
	`suspend_reason` text,
	`children_results` text,
	`parent_credited` integer DEFAULT 0 NOT NULL,
	CONSTRAINT "taskmill_tasks_type_check" CHECK("taskmill_tasks"."type" IN ('async', 'cron')),
	CONSTRAINT "taskmill_tasks_status_check" CHECK("taskmill_tasks"."status" IN ('pending', 'running', 'completed', 'failed', 'timeout', 'permanently_failed', 'paused', 'suspended'))
);
--> statement-breakpoint
CREATE INDEX `idx_task_scheduling` ON `taskmill_tasks` (`status`,`next_run_time`,`priority`);--> statement-breakpoint
CREATE INDEX `idx_task_timeout` ON `taskmill_tasks` (`status`,`last_active_time`) WHERE status = 'running';--> statement-breakpoint
CREATE INDEX `idx_task_workflow` ON `taskmill_tasks` (`parent_id`,`status`,`completed_children`);--> statement-breakpoint
CREATE INDEX `idx_task_stats` ON `taskmill_tasks` (`tag`,`name`,`status`);--> statement-breakpoint
CREATE INDEX `idx_task_last_event` ON `taskmill_tasks` (`last_event_time`,`last_event_type`);--> statement-breakpoint
CREATE INDEX `idx_task_root_created` ON `taskmill_tasks` (`root_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `idx_task_worker_status` ON `taskmill_tasks` (`worker_id`,`status`);--> statement-breakpoint
CREATE INDEX `idx_task_status_active` ON `taskmill_tasks` (`status`,`last_active_time`);--> statement-breakpoint
CREATE TABLE `taskmill_workers` (
	`worker_id` text PRIMARY KEY NOT NULL,
	`pod_id` text,
	`status` text DEFAULT 'active' NOT NULL,
	`host` text,
	`pid` integer,
	`registered_at` integer NOT NULL,
	`last_seen_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`superseded_at` integer,
	`dead_at` integer,
	`meta` text,
	CONSTRAINT "taskmill_workers_status_check" CHECK("taskmill_workers"."status" IN ('active', 'superseded', 'dead'))
);
--> statement-breakpoint
CREATE INDEX `idx_task_workers_pod_id` ON `taskmill_workers` (`pod_id`);--> statement-breakpoint
CREATE INDEX `idx_task_workers_status_expires` ON `taskmill_workers` (`status`,`expires_at`);--> statement-breakpoint
CREATE INDEX `idx_task_workers_pod_status` ON `taskmill_workers` (`pod_id`,`status`);