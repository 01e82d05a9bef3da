CREATE TABLE "taskmill_task_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"task_id" bigint NOT NULL,
	"attempt" integer NOT NULL,
	"worker_id" varchar(255),
	"started_at" bigint NOT NULL,
	"ended_at" bigint,
	"outcome" varchar(32),
	"error" text,
	"timeout_flag" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "taskmill_task_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"task_id" bigint NOT NULL,
	"root_id" bigint,
	"parent_id" bigint,
	"event_type" varchar(100) NOT NULL,
	"from_status" varchar(32),
	"to_status" varchar(32),
	"stage" integer,
	"worker_id" varchar(255),
	"attempt" integer,
	"event_time" bigint NOT NULL,
	"message" text,
	"metadata" text
);
--> statement-breakpoint
CREATE TABLE "taskmill_tasks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"name" varchar(255) NOT NULL,
	"type" varchar(10) NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"payload" text,
	"created_at" bigint NOT NULL,
	"tag" varchar(255),
	"status" varchar(20) DEFAULT 'pending' NOT NULL,
	"next_run_time" bigint NOT NULL,
	"last_active_time" bigint,
	"last_event_time" bigint,
	"last_event_type" varchar(100),
	"result" text,
	"error" text,
	"current_stage_name" varchar(255),
	"progress_text" text,
	"progress_percent" double precision,
	"stage" integer DEFAULT 0 NOT NULL,
	"timeout" integer DEFAULT 60 NOT NULL,
	"retry_count" integer DEFAULT 0 NOT NULL,
	"max_retries" integer DEFAULT 3 NOT NULL,
	"retry_interval" integer DEFAULT 0 NOT NULL,
	"cron_expr" varchar(100),
	"cron_tz" varchar(100),
	"root_id" bigint,
	"parent_id" bigint,
	"total_children" integer DEFAULT 0 NOT NULL,
	"completed_children" integer DEFAULT 0 NOT NULL,
	"worker_id" varchar(255),
	"start_time" bigint,
	"context" "bytea",
	"attempt" integer DEFAULT 0 NOT NULL,
	"suspend_reason" varchar(255),
	"children_results" text,
	"parent_credited" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "taskmill_workers" (
	"worker_id" varchar(255) PRIMARY KEY NOT NULL,
	"pod_id" varchar(255),
	"status" varchar(32) DEFAULT 'active' NOT NULL,
	"host" varchar(255),
	"pid" integer,
	"registered_at" bigint NOT NULL,
	"last_seen_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"superseded_at" bigint,
	"dead_at" bigint,
	"meta" text
);
--> statement-breakpoint
CREATE INDEX "idx_task_attempts_task_attempt" ON "taskmill_task_attempts" USING btree ("task_id","attempt");--> statement-breakpoint
CREATE INDEX "idx_task_attempts_task_open" ON "taskmill_task_attempts" USING btree ("task_id","attempt" DESC NULLS LAST) WHERE ended_at IS NULL;--> statement-breakpoint
CREATE INDEX "idx_task_attempts_worker_started" ON "taskmill_task_attempts" USING btree ("worker_id","started_at") WHERE worker_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX "idx_task_attempts_outcome_started" ON "taskmill_task_attempts" USING btree ("outcome","started_at") WHERE outcome IS NOT NULL;--> statement-breakpoint
CREATE INDEX "idx_task_events_task_time" ON "taskmill_task_events" USING btree ("task_id","event_time");--> statement-breakpoint
CREATE INDEX "idx_task_events_root_time" ON "taskmill_task_events" USING btree ("root_id","event_time");--> statement-breakpoint
CREATE INDEX "idx_task_events_parent_time" ON "taskmill_task_events" USING btree ("parent_id","event_time") WHERE parent_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX "idx_task_events_type_time" ON "taskmill_task_events" USING btree ("event_type","event_time");--> statement-breakpoint
CREATE INDEX "idx_task_events_worker_time" ON "taskmill_task_events" USING btree ("worker_id","event_time") WHERE worker_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX "idx_task_events_stage_time" ON "taskmill_task_events" USING btree ("stage","event_time") WHERE stage IS NOT NULL;--> statement-breakpoint
CREATE INDEX "idx_task_events_attempt_time" ON "taskmill_task_events" USING btree ("attempt","event_time") WHERE attempt IS NOT NULL;--> statement-breakpoint
CREATE INDEX "idx_task_scheduling" ON "taskmill_tasks" USING btree ("priority" DESC NULLS LAST,"next_run_time","id") WHERE status IN ('pending', 'failed', 'timeout');--> statement-breakpoint
CREATE INDEX "idx_task_timeout" ON "taskmill_tasks" USING btree ("last_active_time") WHERE status = 'running';--> statement-breakpoint
CREATE INDEX "idx_task_workflow" ON "taskmill_tasks" USING btree ("parent_id","status") WHERE parent_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX "idx_task_stats" ON "taskmill_tasks" USING btree ("tag","name","status");--> statement-breakpoint
CREATE INDEX "idx_task_last_event" ON "taskmill_tasks" USING btree ("last_event_time","last_event_type");--> statement-breakpoint
CREATE INDEX "idx_task_root_created" ON "taskmill_tasks" USING btree ("root_id","created_at") WHERE root_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX "idx_task_running_worker" ON "taskmill_tasks" USING btree ("worker_id") WHERE status = 'running';--> statement-breakpoint
CREATE INDEX "idx_task_workers_pod_id" ON "taskmill_workers" USING btree ("pod_id");--> statement-breakpoint
CREATE INDEX "idx_task_workers_status_expires" ON "taskmill_workers" USING btree ("status","expires_at");--> statement-breakpoint
CREATE INDEX "idx_task_workers_pod_status" ON "taskmill_workers" USING btree ("pod_id","status");