import { LIMITS } from './limits.js';
import type { RetryBackoff } from './records.js';
import type { TaskType } from './statuses.js';

/** What happens after a failed or timed-out attempt (docs/behaviour.md#retries). */
export type FailurePlan =
  | { kind: 'retry'; next_run_time: number; /** ms waited before the retry */ delay_ms: number }
  | {
      kind: 'exhausted';
      status: 'permanently_failed' | 'paused';
      /** True when the handler said not to retry (a `PermanentError`), false when the attempts ran out. */
      non_retryable: boolean;
    };

/** The row fields a failure plan reads. */
export interface RetrySettings {
  type: TaskType;
  retry_count: number;
  max_retries: number;
  /** seconds */
  retry_interval: number;
  retry_backoff?: RetryBackoff;
  /** seconds; null or absent: no cap */
  retry_max_interval?: number | null;
  /** 0..1 */
  retry_jitter?: number;
}

/**
 * The wait (ms) before the retry that follows the failure of attempt `retry_count + 1`:
 * - `fixed`: `retry_interval` every time (docs/behaviour.md#retries);
 * - `exponential`: `retry_interval × 2^retry_count` (the first retry waits `retry_interval`, the
 *   second twice that…);
 * then capped at `retry_max_interval` (or `LIMITS.max_duration_seconds` without one, so a long
 * exponential series stays a valid time), and with `retry_jitter` j > 0 shortened by a random
 * fraction of at most j (`delay × (1 − j × random)`), so a jittered wait never exceeds the
 * un-jittered one nor the cap. Whole milliseconds: times are BIGINT columns.
 */
export function retryDelayMs(task: RetrySettings, random: () => number = Math.random): number {
  const base = task.retry_interval * 1000;
  const grown = task.retry_backoff === 'exponential' ? base * 2 ** Math.max(0, task.retry_count) : base;
  const cap = task.retry_max_interval ?? LIMITS.max_duration_seconds;
  let delay = Math.min(grown, Math.max(0, cap) * 1000); // Infinity (2^huge) is capped too
  const jitter = task.retry_jitter ?? 0;
  if (jitter > 0) delay *= 1 - Math.min(jitter, 1) * random();
  return Math.round(delay);
}

/**
 * Decide retry or exhaustion for a task whose attempt just failed at `now` (ms).
 * `max_retries` counts every attempt, the first included: retried iff `retry_count + 1 < max_retries`,
 * after {@link retryDelayMs}. An exhausted async task is `permanently_failed`; an exhausted cron
 * task is `paused`. A `non_retryable` failure (docs/behaviour.md#non-retryable-failures) is exhausted at once.
 */
export function planFailure(task: RetrySettings, now: number, random: () => number = Math.random, nonRetryable = false): FailurePlan {
  if (!nonRetryable && task.retry_count + 1 < task.max_retries) {
    const delay = retryDelayMs(task, random);
    return { kind: 'retry', next_run_time: now + delay, delay_ms: delay };
  }
  return { kind: 'exhausted', status: task.type === 'cron' ? 'paused' : 'permanently_failed', non_retryable: nonRetryable };
}
