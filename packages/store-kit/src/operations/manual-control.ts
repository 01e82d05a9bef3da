import {
  canRetry,
  canTransition,
  DuplicateTaskError,
  InvalidTransitionError,
  parseTaskId,
  TaskNotFoundError,
  type Task,
  type TaskId,
  type TaskStatus,
} from '@taskmill/contracts';
import * as changes from '../changes.js';
import type { StoreWriter } from '../statements.js';
import { apply } from './apply.js';

/* Pause, resume, cancel and retry (docs/behaviour.md#manual-control). */

/** Read a task for a manual control and check the transition; throws before writing anything. */
async function controlled(tx: StoreWriter, taskId: unknown, to: TaskStatus): Promise<Task> {
  const id = parseTaskId(taskId);
  const task = id === null ? null : await tx.lockTask(id);
  if (!task) throw new TaskNotFoundError(taskId);
  if (!canTransition(task.status, to)) throw new InvalidTransitionError(task.id, task.status, to, task.worker_id);
  return task;
}

/** `pauseTask` (docs/behaviour.md#manual-control). */
export async function pauseTask(tx: StoreWriter, taskId: unknown, now: number): Promise<Task> {
  const task = await controlled(tx, taskId, 'paused');
  await apply(tx, [changes.pause(task, now)], now);
  return (await tx.lockTask(task.id))!;
}

/**
 * An operator brings a task back to `pending` (`retryTask`, `resumeTask`): a unique task of scope
 * `pending` or `unfinished` takes its key back when its scope had released it. Another task
 * holding the key now is a `DuplicateTaskError`, thrown before anything is written. Returns the
 * key to set, or null (no key, a `period` key, or still held). The UNIQUE index still decides: an
 * enqueue racing between this read and the update makes the update fail (a `StoreError`).
 */
async function retakeKey(tx: StoreWriter, task: Task): Promise<string | null> {
  const key = await keyToRetake(tx, task);
  if (typeof key === 'object' && key !== null) throw new DuplicateTaskError(task.name, task.unique_key!, key.held_by);
  return key;
}

/**
 * What {@link retakeKey} decides, without throwing: the key to set, null (nothing to take back),
 * or the task holding the key now (a bulk action skips the task then).
 */
export async function keyToRetake(tx: StoreWriter, task: Task): Promise<string | null | { held_by: TaskId }> {
  if (task.unique_key === null || (task.unique_scope !== 'pending' && task.unique_scope !== 'unfinished')) return null;
  const holder = await tx.selectUniqueHolder(task.name, task.unique_key);
  if (holder === task.id) return null;
  if (holder !== null) return { held_by: holder };
  return task.unique_key;
}

/** `resumeTask` (docs/behaviour.md#manual-control). */
export async function resumeTask(tx: StoreWriter, taskId: unknown, resumeReason: string | undefined, now: number): Promise<Task> {
  const task = await controlled(tx, taskId, 'pending');
  await apply(tx, [changes.withKey(changes.resume(task, resumeReason ?? 'manual', now), await retakeKey(tx, task))], now);
  return (await tx.lockTask(task.id))!;
}

/** `cancelTask` (docs/behaviour.md#manual-control, #timeouts). */
export async function cancelTask(tx: StoreWriter, taskId: unknown, reason: string | undefined, now: number): Promise<Task> {
  const task = await controlled(tx, taskId, 'permanently_failed');
  await apply(tx, [changes.cancel(task, reason ?? 'Task cancelled', now)], now);
  return (await tx.lockTask(task.id))!;
}

/** `retryTask`: a failed, timed-out or permanently failed task runs again now (see changes.retry). */
export async function retryTask(tx: StoreWriter, taskId: unknown, now: number): Promise<Task> {
  const id = parseTaskId(taskId);
  const task = id === null ? null : await tx.lockTask(id);
  if (!task) throw new TaskNotFoundError(taskId);
  if (!canRetry(task)) throw new InvalidTransitionError(task.id, task.status, 'pending', task.worker_id);
  await apply(tx, [changes.withKey(changes.retry(task, now), await retakeKey(tx, task))], now);
  return (await tx.lockTask(task.id))!;
}
