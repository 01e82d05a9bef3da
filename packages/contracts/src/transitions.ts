import type { TaskStatus } from './statuses.js';

/**
 * Allowed previous statuses for each target status (docs/behaviour.md#transitions).
 *
 * taskmill differs from fib-flow in one place: `cancelTask` may also cancel a task that is
 * `pending`, `running` or `paused` (docs/behaviour.md#decisions: cancelling aborts a running
 * handler's signal, which only makes sense if a running task can be cancelled). Completed and permanently failed tasks
 * can never be cancelled, paused or resumed.
 *
 * A sleeping or signal-waiting task is `suspended` (docs/behaviour.md#durable-sleep, #signals), so
 * the table needs no new row: its wait ends by `suspended → pending` (its time, its signal, or
 * `resumeTask`), `cancelTask` ends it, and `pauseTask` refuses it as it refuses every suspension.
 */
export const ALLOWED_TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  pending: ['running', 'failed', 'timeout', 'paused', 'suspended'],
  running: ['pending'],
  completed: ['running'],
  failed: ['running'],
  timeout: ['running'],
  permanently_failed: ['pending', 'running', 'failed', 'timeout', 'paused', 'suspended'],
  paused: ['running', 'pending', 'failed', 'timeout'],
  suspended: ['running'],
};

/** True when a task may move from `from` to `to`. */
export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return ALLOWED_TRANSITIONS[to].includes(from);
}

/**
 * Statuses a manual `retryTask` (the operator's "run it again") accepts. `failed`/`timeout` tasks
 * are waiting for an automatic retry, which `retryTask` brings forward to now; a
 * `permanently_failed` task starts over with its retry count reset. A `permanently_failed` workflow
 * child is refused: it was already credited to its parent (exactly once, docs/behaviour.md#workflows), so running it
 * again could never reach the parent.
 */
export const RETRYABLE_STATUSES: readonly TaskStatus[] = ['failed', 'timeout', 'permanently_failed'];

/** True when `retryTask` may move this task back to `pending`. */
export function canRetry(task: { status: TaskStatus; parent_id: number | null }): boolean {
  if (!RETRYABLE_STATUSES.includes(task.status)) return false;
  return task.status !== 'permanently_failed' || task.parent_id === null;
}
