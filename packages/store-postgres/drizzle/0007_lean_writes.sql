DROP INDEX IF EXISTS "idx_task_attempts_task_open";--> statement-breakpoint
DROP INDEX IF EXISTS "idx_task_running_worker";--> statement-breakpoint
ALTER TABLE "taskmill_task_attempts" SET (fillfactor = 90);