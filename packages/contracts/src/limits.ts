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
  /**
   * A payload (of a task or a child) as JSON, in UTF-8 bytes: at most 4 MiB. MariaDB's default
   * `max_allowed_packet` is 16 MiB and mysql2 sends values escaped inside the statement text, where
   * a JSON full of quotes and backslashes doubles in size; 4 MiB leaves room for that and the rest
   * of the row.
   */
  max_payload_bytes: 4 * 1024 * 1024,
  /** A handler's result as JSON, in UTF-8 bytes: at most 4 MiB (as `max_payload_bytes`, same reason). */
  max_result_bytes: 4 * 1024 * 1024,
  /**
   * A failed attempt's error text (message and stack) in UTF-8 bytes: longer ones are cut to this
   * size, never refused, so that a failure is always recorded.
   */
  max_error_bytes: 64 * 1024,
  /** The `metadata` of a checkpoint, progress note or suspension, as JSON in UTF-8 bytes. */
  max_metadata_bytes: 64 * 1024,
  /**
   * Free text a caller passes (progress text, note messages, resume and cancel reasons) in UTF-8
   * bytes. MySQL keeps `progress_text` in a TEXT column of 65,535 bytes.
   */
  max_text_bytes: 16 * 1024,
  /**
   * Names, tags, unique keys, stage names and suspension reasons, in UTF-16 code units (JavaScript
   * `length`): VARCHAR(255) columns on MySQL and PostgreSQL count characters, never more than this.
   */
  max_name_length: 255,
  /** `every` of a schedule (seconds between runs): at most 366 days. */
  max_every_seconds: 366 * 24 * 3600,
  /** A cron expression, in characters (a VARCHAR(100) column). */
  max_cron_expr_length: 100,
  /**
   * `rate_limit.max` (starts per window): at most this many. A claim counts the window's starts
   * through an index, so the count a claim reads is bounded by it.
   */
  max_rate_starts: 1_000_000,
  /**
   * Tasks in one batch of a bulk action (its own transaction, holding their row locks until it
   * commits): at most this many, so that no batch keeps workers waiting long.
   */
  max_bulk_batch_size: 10_000,
  /**
   * Levels of children below a flow's root (docs/behaviour.md#flows): at most this many. Each level
   * is one multi-row insert of the flow's transaction.
   */
  max_flow_depth: 16,
  /**
   * Tasks in one flow, its root included: at most this many. A flow is one transaction, like an
   * `asyncMany` batch, but its rows also lock their parents' resumes; 10,000 keeps it short.
   */
  max_flow_tasks: 10_000,
  /** Nesting of arrays and objects in a payload, result or metadata. */
  max_json_depth: 1000,
} as const;
