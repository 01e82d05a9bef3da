ALTER TABLE "taskmill_tasks" ADD COLUMN "on_failure" varchar(16);--> statement-breakpoint
ALTER TABLE "taskmill_tasks" ADD COLUMN "keep_stage" integer DEFAULT 0 NOT NULL;