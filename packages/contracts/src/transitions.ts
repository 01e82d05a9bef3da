import type { TaskStatus } from './statuses.js';

/**
 * Allowed previous statuses for each target status (SPEC B5.2).
 *
 * taskmill differs from the reference in one place: `cancelTask` may also cancel a task that is
 * `pending`, `running` or `paused` (SPEC A6 says cancelling aborts a running handler's signal, which
 * only makes sense if a running task can be cancelled). Completed and permanently failed tasks
 * can never be cancelled, paused or resumed.
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
