/*
 * The table and column names every store uses (docs/behaviour.md#schema). Each store owns its own drizzle
 * schema; these lists keep the three in step and let tests read rows through a back door.
 */

/** Table names. */
export const TABLES = {
  tasks: 'taskmill_tasks',
  events: 'taskmill_task_events',
  attempts: 'taskmill_task_attempts',
  workers: 'taskmill_workers',
  /** Names paused cluster-wide (docs/behaviour.md#flow-control): one row per paused name. */
  pausedNames: 'taskmill_paused_names',
  /** Signals sent to tasks (docs/behaviour.md#signals): one row per signal, consumed by a wait of its name. */
  signals: 'taskmill_task_signals',
  /** Queue health's rollup of closed minutes (docs/behaviour.md#queue-health), filled by the reader. */
  healthMinutes: 'taskmill_health_minutes',
} as const;

/**
 * Columns of `taskmill_tasks`. Beyond fib-flow's columns (docs/behaviour.md#schema): `cron_tz`; `attempt` (claims so far, the fencing
 * token); `suspend_reason`; `children_results` (JSON lines of the current batch's child outcomes);
 * `parent_credited` (0/1: this child was already counted by its parent); the retry backoff
 * (`retry_backoff`, `retry_max_interval`, `retry_jitter`); unique tasks (`unique_key`,
 * `unique_scope`, `unique_until`, and `unique_slot`: the key while its scope holds, under a UNIQUE
 * index with `name`); `trace_context` (W3C context of the enqueuing span); `concurrency_key`
 * (docs/behaviour.md#flow-control); `dead_letter` (docs/behaviour.md#dead-letters); `on_failure` (a child's
 * rule, docs/behaviour.md#child-failure-rules); `keep_stage` (1: a flow's parent keeps its stage and children's
 * results across retries and recoveries, docs/behaviour.md#flows); timed and signal waits (`wake_at`,
 * `awaited_signal`, `received_signal`: docs/behaviour.md#durable-sleep, #signals).
 */
export const TASK_COLUMNS = [
  'id',
  'name',
  'type',
  'priority',
  'payload',
  'created_at',
  'tag',
  'status',
  'next_run_time',
  'last_active_time',
  'last_event_time',
  'last_event_type',
  'result',
  'error',
  'current_stage_name',
  'progress_text',
  'progress_percent',
  'stage',
  'timeout',
  'retry_count',
  'max_retries',
  'retry_interval',
  'cron_expr',
  'cron_tz',
  'root_id',
  'parent_id',
  'total_children',
  'completed_children',
  'worker_id',
  'start_time',
  'context',
  'attempt',
  'suspend_reason',
  'children_results',
  'parent_credited',
  'retry_backoff',
  'retry_max_interval',
  'retry_jitter',
  'unique_key',
  'unique_scope',
  'unique_until',
  'unique_slot',
  'trace_context',
  'concurrency_key',
  'dead_letter',
  'on_failure',
  'keep_stage',
  'wake_at',
  'awaited_signal',
  'received_signal',
] as const;

/** Columns of `taskmill_task_events`. */
export const EVENT_COLUMNS = [
  'id',
  'task_id',
  'root_id',
  'parent_id',
  'event_type',
  'from_status',
  'to_status',
  'stage',
  'worker_id',
  'attempt',
  'event_time',
  'message',
  'metadata',
] as const;

/** Columns of `taskmill_task_attempts`. */
export const ATTEMPT_COLUMNS = [
  'id',
  'task_id',
  'name',
  'attempt',
  'worker_id',
  'started_at',
  'ended_at',
  'outcome',
  'error',
  'timeout_flag',
  'due_at',
] as const;

/** Columns of `taskmill_workers`. */
export const WORKER_COLUMNS = [
  'worker_id',
  'pod_id',
  'status',
  'host',
  'pid',
  'registered_at',
  'last_seen_at',
  'expires_at',
  'superseded_at',
  'dead_at',
  'meta',
] as const;

/** Columns of `taskmill_paused_names`. */
export const PAUSED_NAME_COLUMNS = ['name', 'paused_at', 'paused_by', 'reason'] as const;

/**
 * Columns of `taskmill_task_signals` (docs/behaviour.md#signals): `data` is JSON text or null;
 * `consumed_at` (ms) is set by the wait that took the signal, null while it is kept.
 */
export const SIGNAL_COLUMNS = ['id', 'task_id', 'name', 'data', 'sent_at', 'consumed_at'] as const;
/** Columns of `taskmill_health_minutes` (primary key minute, name, kind, k). */
export const HEALTH_MINUTE_COLUMNS = ['minute', 'name', 'kind', 'k', 'n', 'c', 'f'] as const;
