import {
  canTransition,
  events,
  InvalidTransitionError,
  TaskNotFoundError,
  type Task,
  type TaskStatus,
} from '@taskmill/contracts';
import { isTaskId, type Sql } from './sql.js';
import { closeAttempt, readTask, writeEvent } from './task-writes.js';
import { creditParent } from './workflow.js';

/*
 * Operator controls (SPEC B2.5): pause, resume, cancel. Each validates the transition against the
 * row read inside the caller's IMMEDIATE transaction and throws before writing anything.
 */

function load(sql: Sql, taskId: unknown, to: TaskStatus): Task {
  const task = isTaskId(taskId) ? readTask(sql, taskId) : null;
  if (!task) throw new TaskNotFoundError(taskId);
  if (!canTransition(task.status, to)) throw new InvalidTransitionError(task.id, task.status, to, task.worker_id);
  return task;
}

/** → `paused`; a running attempt closes with outcome `paused`. */
export function pauseTask(sql: Sql, taskId: unknown, now: number): Task {
  const task = load(sql, taskId, 'paused');
  sql.run(`UPDATE taskmill_tasks SET status = 'paused', last_active_time = ? WHERE id = ?`, now, task.id);
  if (task.status === 'running') closeAttempt(sql, task.id, now, 'paused');
  writeEvent(sql, events.paused(task, task.status, now));
  return readTask(sql, task.id)!;
}

/** → `pending` due now; stage + 1 from `suspended`, else stage 0. */
export function resumeTask(sql: Sql, taskId: unknown, resumeReason: string | undefined, now: number): Task {
  const task = load(sql, taskId, 'pending');
  const fromSuspended = task.status === 'suspended';
  const stage = fromSuspended ? task.stage + 1 : 0;
  sql.run(
    `UPDATE taskmill_tasks
     SET status = 'pending', stage = ?, next_run_time = ?, retry_count = 0, suspend_reason = NULL,
         last_active_time = ?, children_results = CASE WHEN ? THEN '' ELSE children_results END
     WHERE id = ?`,
    stage,
    now,
    now,
    fromSuspended ? 1 : 0,
    task.id,
  );
  if (task.status === 'running') closeAttempt(sql, task.id, now, 'pending');
  writeEvent(sql, events.resumed(task, task.status, stage, resumeReason ?? 'manual', now));
  return readTask(sql, task.id)!;
}

/** → `permanently_failed` with the reason as error; a child is credited to its parent. */
export function cancelTask(sql: Sql, taskId: unknown, reason: string | undefined, now: number): Task {
  const task = load(sql, taskId, 'permanently_failed');
  const error = reason ?? 'Task cancelled';
  sql.run(
    `UPDATE taskmill_tasks SET status = 'permanently_failed', error = ?, last_active_time = ? WHERE id = ?`,
    error,
    now,
    task.id,
  );
  if (task.status === 'running') closeAttempt(sql, task.id, now, 'cancelled', error);
  writeEvent(sql, events.cancelled(task, task.status, error, now));
  const cancelled = readTask(sql, task.id)!;
  creditParent(sql, cancelled, now);
  return readTask(sql, task.id)!;
}
