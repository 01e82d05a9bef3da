import { events, type NewTask, type TaskId } from '@taskmill/contracts';
import type { Sql } from './sql.js';
import { writeEvent } from './task-writes.js';

/** Insert top-level `pending` tasks with their `task_created` events (caller's transaction). */
export function createTasks(sql: Sql, tasks: NewTask[], now: number): TaskId[] {
  const ids: TaskId[] = [];
  for (const task of tasks) {
    const info = sql.run(
      `INSERT INTO taskmill_tasks
         (name, type, priority, payload, created_at, tag, status, next_run_time, timeout, max_retries,
          retry_interval, cron_expr, cron_tz)
       VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)`,
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
    );
    const id = Number(info.lastInsertRowid);
    ids.push(id);
    const subject = { id, root_id: null, parent_id: null, name: task.name, type: task.type, tag: task.tag, stage: 0, worker_id: null };
    writeEvent(sql, events.created(subject, 'pending', now));
  }
  return ids;
}
