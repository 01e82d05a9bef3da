ALTER TABLE "taskmill_tasks" ALTER COLUMN "timeout" SET DATA TYPE double precision;--> statement-breakpoint
ALTER TABLE "taskmill_tasks" ALTER COLUMN "timeout" SET DEFAULT 60;--> statement-breakpoint
ALTER TABLE "taskmill_tasks" ALTER COLUMN "retry_interval" SET DATA TYPE double precision;