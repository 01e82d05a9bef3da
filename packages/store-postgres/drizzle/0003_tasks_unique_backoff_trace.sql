ALTER TABLE "taskmill_tasks" ADD COLUMN "retry_backoff" varchar(16) DEFAULT 'fixed' NOT NULL;--> statement-breakpoint
ALTER TABLE "taskmill_tasks" ADD COLUMN "retry_max_interval" double precision;--> statement-breakpoint
ALTER TABLE "taskmill_tasks" ADD COLUMN "retry_jitter" double precision DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "taskmill_tasks" ADD COLUMN "unique_key" varchar(255);--> statement-breakpoint
ALTER TABLE "taskmill_tasks" ADD COLUMN "unique_scope" varchar(16);--> statement-breakpoint
ALTER TABLE "taskmill_tasks" ADD COLUMN "unique_until" bigint;--> statement-breakpoint
ALTER TABLE "taskmill_tasks" ADD COLUMN "unique_slot" varchar(255);--> statement-breakpoint
ALTER TABLE "taskmill_tasks" ADD COLUMN "trace_context" varchar(1024);--> statement-breakpoint
CREATE UNIQUE INDEX "idx_task_unique" ON "taskmill_tasks" USING btree ("name","unique_slot") WHERE unique_slot IS NOT NULL;