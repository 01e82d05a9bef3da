import type { TaskType } from '../statuses.js';

/** What happens after a failed or timed-out attempt (SPEC A5, B5.4). */
export type FailurePlan =
  | { kind: 'retry'; next_run_time: number }
  | { kind: 'exhausted'; status: 'permanently_failed' | 'paused' };

/**
 * Decide retry or exhaustion for a task whose attempt just failed at `now` (ms).
 * `max_retries` counts every attempt, the first included: retried iff `retry_count + 1 < max_retries`.
 * An exhausted async task is `permanently_failed`; an exhausted cron task is `paused`.
 */
export function planFailure(
  task: { type: TaskType; retry_count: number; max_retries: number; retry_interval: number },
  now: number,
): FailurePlan {
  if (task.retry_count + 1 < task.max_retries) {
    // whole milliseconds: times are BIGINT columns and retry_interval may have fractions of seconds
    return { kind: 'retry', next_run_time: now + Math.round(task.retry_interval * 1000) };
  }
  return { kind: 'exhausted', status: task.type === 'cron' ? 'paused' : 'permanently_failed' };
}
