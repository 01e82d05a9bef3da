import { decodeTask, type EventDraft, type Fence, type RawRow, type Task } from '@taskmill/contracts';
import type { Sql } from './sql.js';

/*
 * Building blocks every write transaction uses: read the row, write an audit event (which also
 * stamps the task's last_event_*), open and close attempt rows. Always called inside a
 * transaction opened by the caller.
 */

/** The raw task row, or undefined. */
export function readTaskRow(sql: Sql, taskId: number): RawRow | undefined {
  return sql.get('SELECT * FROM taskmill_tasks WHERE id = ?', taskId);
}

/** The decoded task, or null. */
export function readTask(sql: Sql, taskId: number): Task | null {
  const row = readTaskRow(sql, taskId);
  return row ? decodeTask(row) : null;
}

/** True when `task` is still running under this fence. */
export function holdsFence(task: Task, fence: Fence): boolean {
  return task.status === 'running' && task.worker_id === fence.worker_id && task.attempt === fence.attempt;
}

/** Insert one event and record it as the task's latest. Returns the event id. */
export function writeEvent(sql: Sql, draft: EventDraft): number {
  const info = sql.run(
    `INSERT INTO taskmill_task_events
       (task_id, root_id, parent_id, event_type, from_status, to_status, stage, worker_id, attempt, event_time, message, metadata)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    draft.task_id,
    draft.root_id,
    draft.parent_id,
    draft.event_type,
    draft.from_status,
    draft.to_status,
    draft.stage,
    draft.worker_id,
    draft.attempt,
    draft.event_time,
    draft.message,
    draft.metadata === null ? null : JSON.stringify(draft.metadata),
  );
  sql.run(
    'UPDATE taskmill_tasks SET last_event_time = ?, last_event_type = ? WHERE id = ?',
    draft.event_time,
    draft.event_type,
    draft.task_id,
  );
  return Number(info.lastInsertRowid);
}

/** Write several events in order. */
export function writeEvents(sql: Sql, drafts: EventDraft[]): void {
  for (const draft of drafts) writeEvent(sql, draft);
}

/** Open the attempt row of a fresh claim. */
export function openAttempt(sql: Sql, taskId: number, attempt: number, workerId: string, now: number): void {
  sql.run(
    'INSERT INTO taskmill_task_attempts (task_id, attempt, worker_id, started_at) VALUES (?, ?, ?, ?)',
    taskId,
    attempt,
    workerId,
    now,
  );
}

/** Close the task's open attempt(s) with an outcome. */
export function closeAttempt(
  sql: Sql,
  taskId: number,
  now: number,
  outcome: string,
  error: string | null = null,
  timeoutFlag = false,
): void {
  sql.run(
    `UPDATE taskmill_task_attempts SET ended_at = ?, outcome = ?, error = ?, timeout_flag = ?
     WHERE task_id = ? AND ended_at IS NULL`,
    now,
    outcome,
    error,
    timeoutFlag ? 1 : 0,
    taskId,
  );
}
