import { events, type NewTask, type TaskId } from '@taskmill/contracts';
import type { Sql } from './sql.js';
import { writeEvent } from './task-writes.js';

/** A task row to insert: a new task and its place in a workflow (null for a top-level task). */
export type TaskInsert = NewTask & { root_id: TaskId | null; parent_id: TaskId | null };

/** Insert one `pending` task and its `task_created` event (caller's transaction); returns its id. */
export function insertTask(sql: Sql, task: TaskInsert, now: number): TaskId {
  const info = sql.run(
    `INSERT INTO taskmill_tasks
       (name, type, priority, payload, created_at, tag, status, next_run_time, timeout, max_retries,
        retry_interval, cron_expr, cron_tz, root_id, parent_id)
     VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)`,
    task.name,
    task.type,
    task.priority,
    task.payload,
    now,
    task.tag,
    task.next_run_time,
    task.timeout,
    task.max_retries,
    task.retry_interval,
    task.cron_expr,
    task.cron_tz,
    task.root_id,
    task.parent_id,
  );
  const id = Number(info.lastInsertRowid);
  const subject = { id, root_id: task.root_id, parent_id: task.parent_id, name: task.name, type: task.type, tag: task.tag, stage: 0, worker_id: null };
  writeEvent(sql, events.created(subject, 'pending', now));
  return id;
}

/** Insert top-level `pending` tasks with their `task_created` events (caller's transaction). */
export function createTasks(sql: Sql, tasks: NewTask[], now: number): TaskId[] {
  return tasks.map((task) => insertTask(sql, { ...task, root_id: null, parent_id: null }, now));
}
