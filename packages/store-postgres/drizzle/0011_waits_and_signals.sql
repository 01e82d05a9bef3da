CREATE TABLE "taskmill_task_signals" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"task_id" bigint NOT NULL,
	"name" varchar(255) NOT NULL,
	"data" text,
	"sent_at" bigint NOT NULL,
	"consumed_at" bigint
);
--> statement-breakpoint
ALTER TABLE "taskmill_tasks" ADD COLUMN "wake_at" bigint;--> statement-breakpoint
ALTER TABLE "taskmill_tasks" ADD COLUMN "awaited_signal" varchar(255);--> statement-breakpoint
ALTER TABLE "taskmill_tasks" ADD COLUMN "received_signal" text;--> statement-breakpoint
CREATE INDEX "idx_task_signals_task_name" ON "taskmill_task_signals" USING btree ("task_id","name","id");--> statement-breakpoint
CREATE INDEX "idx_task_wake" ON "taskmill_tasks" USING btree ("wake_at") WHERE wake_at IS NOT NULL;