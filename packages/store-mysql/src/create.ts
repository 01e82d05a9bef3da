import type { NewTask, RawRow } from '@taskmill/contracts';
import { decodeTask, events } from '@taskmill/contracts';
import { exec, insertEvents, T } from './queries.js';
import type { Conn } from './transaction.js';

/** Columns of a task row being inserted: a new task plus its place in a workflow. */
export type TaskInsert = NewTask & { root_id: number | null; parent_id: number | null };

/**
 * Insert one `pending` task and return its id. One row per INSERT on purpose: `insertId` is then
 * exact whatever `innodb_autoinc_lock_mode` and `auto_increment_increment` are.
 */
export async function insertTaskRow(conn: Conn, task: TaskInsert, now: number): Promise<number> {
  const { insertId } = await exec(
    conn,
    `INSERT INTO ${T} (name, type, payload, priority, tag, status, next_run_time, created_at, timeout, max_retries, retry_interval, cron_expr, cron_tz, root_id, parent_id)
     VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      task.name,
      task.type,
      task.payload,
      task.priority,
      task.tag,
      task.next_run_time,
      now,
      task.timeout,
      task.max_retries,
      task.retry_interval,
      task.cron_expr,
      task.cron_tz,
      task.root_id,
      task.parent_id,
    ],
  );
  return insertId;
}

/** The `task_created` subject of a freshly inserted task (no need to read it back). */
export function createdSubject(id: number, task: TaskInsert) {
  const raw: RawRow = { ...task, id, status: 'pending', stage: 0, worker_id: null };
  return decodeTask(raw);
}

/** `createTasks`: insert top-level tasks and their `task_created` events (caller's transaction). */
export async function createTasks(conn: Conn, tasks: NewTask[], now: number): Promise<number[]> {
  const ids: number[] = [];
  const drafts = [];
  for (const task of tasks) {
    const insert: TaskInsert = { ...task, root_id: null, parent_id: null };
    const id = await insertTaskRow(conn, insert, now);
    ids.push(id);
    drafts.push(events.created(createdSubject(id, insert), 'pending', now));
  }
  await insertEvents(conn, drafts);
  return ids;
}
