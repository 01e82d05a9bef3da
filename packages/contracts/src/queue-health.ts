import type { TaskStatus } from './statuses.js';

/* Queue health: what an operator looks at first, per task name and over a time window. */

/** What {@link QueueHealthQuery} accepts (docs/behaviour.md#queue-health). */
export const QUEUE_HEALTH_LIMITS = {
  /** Longest window: 7 days. */
  max_window_ms: 7 * 24 * 3_600_000,
  /** Most buckets a window is cut into. */
  max_buckets: 288,
  /** Most names reported; the rest are left out (`names_truncated`). */
  max_names: 100,
} as const;

/** Arguments of `getQueueHealth`. */
export interface QueueHealthQuery {
  /** The end of the window, ms since the epoch, on the database's clock. */
  now: number;
  /** The window's length in ms: a positive integer, at most 7 days. */
  window_ms: number;
  /**
   * How many equal buckets the window is cut into: an integer from 1 to 288, dividing `window_ms`. The
   * buckets end on the first multiple of `window_ms / buckets` at or after `now`.
   */
  buckets: number;
}

/** One name's health. Times in ms; figures from attempts that started in the window, unless said otherwise. */
export interface NameHealth {
  name: string;
  /** Tasks of the name in each status now, every status, zeros included. */
  statuses: Record<TaskStatus, number>;
  /** Tasks in `pending`, now (due or not). */
  pending: number;
  /** Claimable tasks (`pending`, `failed`, `timeout`) whose `next_run_time <= now`. */
  due: number;
  /** Tasks in `running`, now. */
  running: number;
  /** Attempts that ended `failed` or `timeout` in the hour up to `now`: the 60 whole minutes ending with `now`'s minute (whatever the window). */
  failed_last_hour: number;
  /** `next_run_time` of the longest-waiting due task, or null when none is due. */
  oldest_due_at: number | null;
  /** Attempts that started in the window. */
  started: number;
  /** Attempts that ended `completed` in the window. */
  completed: number;
  /** Attempts that ended `failed` or `timeout` in the window. */
  failed: number;
  /**
   * Wait (start − due time) of the attempts with a known due time, or null without any; wait and run
   * percentiles are nearest-rank over every attempt, each read as the middle of its bin of at most 5%
   * (docs/behaviour.md#queue-health).
   */
  wait_p50: number | null;
  wait_p95: number | null;
  /** Run time (end − start) of the ended attempts, or null without any. */
  run_p50: number | null;
  run_p95: number | null;
}

/** One bucket of the window, all names together. */
export interface HealthBucket {
  /** The bucket covers `[start, start + bucket_ms)`. */
  start: number;
  /** Attempts that ended `completed` in the bucket. */
  completed: number;
  /** Attempts that ended `failed` or `timeout` in the bucket. */
  failed: number;
  /** Median wait of the attempts that started in the bucket, or null without any. */
  wait_p50: number | null;
}

/** The result of `getQueueHealth`. */
export interface QueueHealth {
  now: number;
  /** Start of the window: the first multiple of `bucket_ms` at or after `now`, minus `window_ms` (docs/behaviour.md#queue-health). */
  since: number;
  bucket_ms: number;
  /** Tasks in each status now, of every name (not only of those in `names`), zeros included. */
  by_status: Record<TaskStatus, number>;
  /** By name (code units); names with tasks now, at most `max_names`. */
  names: NameHealth[];
  /** Oldest first, `buckets` of them. */
  buckets: HealthBucket[];
  /** More names than `max_names`. */
  names_truncated: boolean;
}
