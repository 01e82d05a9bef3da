import type { Task, TaskStatus } from '@taskmill/contracts';
import { canTransition, decodeTask, events, InvalidTransitionError, TaskNotFoundError } from '@taskmill/contracts';
import { closeAttempt, insertEvents, lockTaskRow, selectTask, toId, updateTask } from './queries.js';
import type { Conn } from './transaction.js';
import { childEntry, creditParent } from './workflow.js';

/*
 * Manual per-task control (SPEC B2.5): pause, resume, cancel. Each locks the row, checks the
 * transition table of contracts, and writes the row, the attempt and the event together.
 */

async function lockFor(conn: Conn, taskId: number, to: TaskStatus): Promise<Task> {
  const id = toId(taskId);
  const row = id === null ? null : await lockTaskRow(conn, id);
  if (!row) throw new TaskNotFoundError(taskId);
  const task = decodeTask(row);
  if (!canTransition(task.status, to)) throw new InvalidTransitionError(task.id, task.status, to, task.worker_id);
  return task;
}

async function reread(conn: Conn, id: number): Promise<Task> {
  const task = await selectTask(conn, id);
  if (!task) throw new TaskNotFoundError(id);
  return task;
}

/** `pauseTask` (caller's transaction). */
export async function pauseTask(conn: Conn, taskId: number, now: number): Promise<Task> {
  const task = await lockFor(conn, taskId, 'paused');
  await updateTask(conn, task.id, { status: 'paused', last_active_time: now });
  if (task.status === 'running') {
    await closeAttempt(conn, task.id, task.attempt, { ended_at: now, outcome: 'paused', error: null, timeout_flag: false });
  }
  await insertEvents(conn, [events.paused(task, task.status, now)]);
  return reread(conn, task.id);
}

/** `resumeTask` (caller's transaction). */
export async function resumeTask(conn: Conn, taskId: number, options: { resume_reason?: string }, now: number): Promise<Task> {
  const task = await lockFor(conn, taskId, 'pending');
  const fromSuspended = task.status === 'suspended';
  const stage = fromSuspended ? task.stage + 1 : 0;
  const values: Record<string, unknown> = {
    status: 'pending',
    stage,
    next_run_time: now,
    retry_count: 0,
    suspend_reason: null,
    last_active_time: now,
  };
  if (fromSuspended) values.children_results = '';
  await updateTask(conn, task.id, values);
  if (task.status === 'running') {
    await closeAttempt(conn, task.id, task.attempt, { ended_at: now, outcome: 'pending', error: null, timeout_flag: false });
  }
  await insertEvents(conn, [events.resumed(task, task.status, stage, options?.resume_reason ?? 'manual', now)]);
  return reread(conn, task.id);
}

/** `cancelTask` (caller's transaction); a cancelled child is credited to its parent. */
export async function cancelTask(conn: Conn, taskId: number, options: { reason?: string }, now: number): Promise<Task> {
  const task = await lockFor(conn, taskId, 'permanently_failed');
  const reason = options?.reason ?? 'Task cancelled';
  await updateTask(conn, task.id, { status: 'permanently_failed', error: reason, last_active_time: now, suspend_reason: null });
  if (task.status === 'running') {
    await closeAttempt(conn, task.id, task.attempt, { ended_at: now, outcome: 'cancelled', error: reason, timeout_flag: false });
  }
  await insertEvents(conn, [events.cancelled(task, task.status, reason, now)]);
  await creditParent(conn, task, childEntry(task, 'permanently_failed', null, reason), now);
  return reread(conn, task.id);
}
