CREATE TABLE "taskmill_paused_names" (
	"name" varchar(255) PRIMARY KEY NOT NULL,
	"paused_at" bigint NOT NULL,
	"paused_by" varchar(255),
	"reason" text
);
--> statement-breakpoint
ALTER TABLE "taskmill_task_attempts" ADD COLUMN "name" varchar(255);--> statement-breakpoint
ALTER TABLE "taskmill_tasks" ADD COLUMN "concurrency_key" varchar(255) COLLATE "C";--> statement-breakpoint
CREATE INDEX "idx_task_attempts_name_started" ON "taskmill_task_attempts" USING btree ("name","started_at");--> statement-breakpoint
CREATE INDEX "idx_task_claim_key" ON "taskmill_tasks" USING btree ("name","concurrency_key","priority" DESC NULLS FIRST,"next_run_time","id") WHERE status IN ('pending', 'failed', 'timeout');