CREATE TABLE `taskmill_task_attempts` (
	`id` bigint AUTO_INCREMENT NOT NULL,
	`task_id` bigint NOT NULL,
	`attempt` int NOT NULL,
	`worker_id` varchar(255),
	`started_at` bigint NOT NULL,
	`ended_at` bigint,
	`outcome` varchar(32),
	`error` longtext,
	`timeout_flag` boolean NOT NULL DEFAULT false,
	CONSTRAINT `taskmill_task_attempts_id` PRIMARY KEY(`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
--> statement-breakpoint
CREATE TABLE `taskmill_task_events` (
	`id` bigint AUTO_INCREMENT NOT NULL,
	`task_id` bigint NOT NULL,
	`root_id` bigint,
	`parent_id` bigint,
	`event_type` varchar(100) NOT NULL,
	`from_status` varchar(32),
	`to_status` varchar(32),
	`stage` int,
	`worker_id` varchar(255),
	`attempt` int,
	`event_time` bigint NOT NULL,
	`message` longtext,
	`metadata` longtext,
	CONSTRAINT `taskmill_task_events_id` PRIMARY KEY(`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
--> statement-breakpoint
CREATE TABLE `taskmill_tasks` (
	`id` bigint AUTO_INCREMENT NOT NULL,
	`name` varchar(255) NOT NULL,
	`type` varchar(16) NOT NULL,
	`priority` int NOT NULL DEFAULT 0,
	`payload` longtext,
	`created_at` bigint NOT NULL,
	`tag` varchar(255),
	`status` varchar(32) NOT NULL DEFAULT 'pending',
	`next_run_time` bigint NOT NULL,
	`last_active_time` bigint,
	`last_event_time` bigint,
	`last_event_type` varchar(100),
	`result` longtext,
	`error` longtext,
	`current_stage_name` varchar(255),
	`progress_text` text,
	`progress_percent` double,
	`stage` int NOT NULL DEFAULT 0,
	`timeout` int NOT NULL DEFAULT 60,
	`retry_count` int NOT NULL DEFAULT 0,
	`max_retries` int NOT NULL DEFAULT 3,
	`retry_interval` int NOT NULL DEFAULT 0,
	`cron_expr` varchar(100),
	`cron_tz` varchar(100),
	`root_id` bigint,
	`parent_id` bigint,
	`total_children` int NOT NULL DEFAULT 0,
	`completed_children` int NOT NULL DEFAULT 0,
	`worker_id` varchar(255),
	`start_time` bigint,
	`context` longblob,
	`attempt` int NOT NULL DEFAULT 0,
	`suspend_reason` text,
	`children_results` longtext,
	`parent_credited` boolean NOT NULL DEFAULT false,
	CONSTRAINT `taskmill_tasks_id` PRIMARY KEY(`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
--> statement-breakpoint
CREATE TABLE `taskmill_workers` (
	`worker_id` varchar(255) NOT NULL,
	`pod_id` varchar(255),
	`status` varchar(32) NOT NULL,
	`host` varchar(255),
	`pid` int,
	`registered_at` bigint NOT NULL,
	`last_seen_at` bigint NOT NULL,
	`expires_at` bigint NOT NULL,
	`superseded_at` bigint,
	`dead_at` bigint,
	`meta` longtext,
	CONSTRAINT `taskmill_workers_worker_id` PRIMARY KEY(`worker_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
--> statement-breakpoint
CREATE INDEX `idx_task_attempts_task_attempt` ON `taskmill_task_attempts` (`task_id`,`attempt`);--> statement-breakpoint
CREATE INDEX `idx_task_attempts_task_open` ON `taskmill_task_attempts` (`task_id`,`ended_at`,`attempt`);--> statement-breakpoint
CREATE INDEX `idx_task_attempts_worker_started` ON `taskmill_task_attempts` (`worker_id`,`started_at`);--> statement-breakpoint
CREATE INDEX `idx_task_attempts_outcome_started` ON `taskmill_task_attempts` (`outcome`,`started_at`);--> statement-breakpoint
CREATE INDEX `idx_task_events_task_time` ON `taskmill_task_events` (`task_id`,`event_time`);--> statement-breakpoint
CREATE INDEX `idx_task_events_root_time` ON `taskmill_task_events` (`root_id`,`event_time`);--> statement-breakpoint
CREATE INDEX `idx_task_events_parent_time` ON `taskmill_task_events` (`parent_id`,`event_time`);--> statement-breakpoint
CREATE INDEX `idx_task_events_type_time` ON `taskmill_task_events` (`event_type`,`event_time`);--> statement-breakpoint
CREATE INDEX `idx_task_events_worker_time` ON `taskmill_task_events` (`worker_id`,`event_time`);--> statement-breakpoint
CREATE INDEX `idx_task_events_stage_time` ON `taskmill_task_events` (`stage`,`event_time`);--> statement-breakpoint
CREATE INDEX `idx_task_events_attempt_time` ON `taskmill_task_events` (`attempt`,`event_time`);--> statement-breakpoint
CREATE INDEX `idx_task_scheduling` ON `taskmill_tasks` (`status`,`next_run_time`,`priority`);--> statement-breakpoint
CREATE INDEX `idx_task_timeout` ON `taskmill_tasks` (`status`,`last_active_time`);--> statement-breakpoint
CREATE INDEX `idx_task_workflow` ON `taskmill_tasks` (`parent_id`,`status`,`completed_children`);--> statement-breakpoint
CREATE INDEX `idx_task_stats` ON `taskmill_tasks` (`tag`,`name`,`status`);--> statement-breakpoint
CREATE INDEX `idx_task_last_event` ON `taskmill_tasks` (`last_event_time`,`last_event_type`);--> statement-breakpoint
CREATE INDEX `idx_task_root_created` ON `taskmill_tasks` (`root_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `idx_task_claim_name` ON `taskmill_tasks` (`name`,`status`,`next_run_time`);--> statement-breakpoint
CREATE INDEX `idx_task_worker_status` ON `taskmill_tasks` (`worker_id`,`status`);--> statement-breakpoint
CREATE INDEX `idx_task_running_start` ON `taskmill_tasks` (`status`,`start_time`);--> statement-breakpoint
CREATE INDEX `idx_task_created` ON `taskmill_tasks` (`created_at`);--> statement-breakpoint
CREATE INDEX `idx_task_retention` ON `taskmill_tasks` (`status`,`last_active_time`,`created_at`);--> statement-breakpoint
CREATE INDEX `idx_task_workers_pod_id` ON `taskmill_workers` (`pod_id`);--> statement-breakpoint
CREATE INDEX `idx_task_workers_status_expires` ON `taskmill_workers` (`status`,`expires_at`);--> statement-breakpoint
CREATE INDEX `idx_task_workers_pod_status` ON `taskmill_workers` (`pod_id`,`status`);