DROP INDEX `idx_task_attempts_worker_started` ON `taskmill_task_attempts`;--> statement-breakpoint
DROP INDEX `idx_task_attempts_outcome_started` ON `taskmill_task_attempts`;--> statement-breakpoint
DROP INDEX `idx_task_events_parent_time` ON `taskmill_task_events`;--> statement-breakpoint
DROP INDEX `idx_task_events_type_time` ON `taskmill_task_events`;--> statement-breakpoint
DROP INDEX `idx_task_events_worker_time` ON `taskmill_task_events`;--> statement-breakpoint
DROP INDEX `idx_task_events_stage_time` ON `taskmill_task_events`;--> statement-breakpoint
DROP INDEX `idx_task_events_attempt_time` ON `taskmill_task_events`;--> statement-breakpoint
DROP INDEX `idx_task_last_event` ON `taskmill_tasks`;