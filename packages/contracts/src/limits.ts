/*
 * The ranges every store can hold, validated once (by core, before anything is written) so that
 * a value accepted on one store is accepted on all three. PostgreSQL and MySQL keep priorities,
 * retries and stages in 32-bit INTEGER columns; times are BIGINT epoch milliseconds.
 */

/** Bounds of user-facing numbers. Every duration and time a caller passes is checked against these. */
export const LIMITS = {
  /** `priority`: a 32-bit signed integer. */
  priority: { min: -2_147_483_648, max: 2_147_483_647 },
  /** `max_retries` (total attempts): at most this many. */
  max_retries: 1_000_000,
  /** `delay` (seconds before a task becomes due): at most 10 years. */
  max_delay_seconds: 10 * 365 * 24 * 3600,
  /** `timeout` and `retry_interval` (seconds): at most 366 days. */
  max_duration_seconds: 366 * 24 * 3600,
  /** Millisecond options of the TaskManager (poll, heartbeat, lease, shutdown): at most 24 days (setTimeout's range). */
  max_interval_ms: 2_147_483_647,
  /** `prefetch_tasks` (claimed tasks a worker may hold waiting for a free slot): at most this many. */
  max_prefetch_tasks: 10_000,
  /**
   * Tasks in one `asyncMany` call: at most this many. A batch is one transaction, written in
   * chunks with event-loop turns between them; a larger one is refused (`ValidationError`) before
   * anything is written — split it into several calls.
   */
  max_batch_size: 100_000,
  /** Any absolute time (ms since the epoch) a caller passes: before 10000-01-01T00:00:00Z. */
  max_time_ms: 253_402_300_800_000,
} as const;
