DROP INDEX `idx_task_attempts_worker_started`;--> statement-breakpoint
DROP INDEX `idx_task_attempts_outcome_started`;--> statement-breakpoint
DROP INDEX `idx_task_events_parent_time`;--> statement-breakpoint
DROP INDEX `idx_task_events_type_time`;--> statement-breakpoint
DROP INDEX `idx_task_events_worker_time`;--> statement-breakpoint
DROP INDEX `idx_task_events_stage_time`;--> statement-breakpoint
DROP INDEX `idx_task_events_attempt_time`;--> statement-breakpoint
DROP INDEX `idx_task_last_event`;