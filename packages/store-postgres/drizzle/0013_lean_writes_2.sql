DROP INDEX "idx_task_events_root_time";--> statement-breakpoint
CREATE INDEX "idx_task_events_root_time" ON "taskmill_task_events" USING btree ("root_id","event_time") WHERE task_id <> root_id;