import type { EventType } from './event-types.js';
import type { AttemptOutcome, TaskStatus, TaskType, WorkerStatus } from './statuses.js';

/**
 * A task id. Every store uses an auto-incrementing 64-bit integer key and hands it out as a
 * JavaScript number (exact up to 2^53). Treat it as opaque: compare and pass it back, do not
 * compute with it.
 */
export type TaskId = number;

/** One child's outcome as its parent sees it on the run after its children finished (docs/behaviour.md#workflows). */
export type ChildResult = { task_id: TaskId; result: unknown } | { task_id: TaskId; error: string };

/** A task row as stores return it: JSON columns decoded, times in epoch milliseconds. */
export interface Task {
  id: TaskId;
  name: string;
  type: TaskType;
  /** Higher runs first; negative values are valid. */
  priority: number;
  payload: unknown;
  created_at: number;
  tag: string | null;
  status: TaskStatus;
  /** Earliest time (ms) the task may be claimed (or retried, for `failed`/`timeout`). */
  next_run_time: number;
  last_active_time: number | null;
  last_event_time: number | null;
  last_event_type: EventType | null;
  /**
   * The last result. For a workflow parent at stage >= 1 that has not completed, the
   * children-results array of its latest batch (sorted by child id), `[]` after an explicit resume.
   */
  result: unknown;
  error: string | null;
  current_stage_name: string | null;
  progress_text: string | null;
  progress_percent: number | null;
  stage: number;
  /** Per-attempt timeout in seconds. */
  timeout: number;
  retry_count: number;
  /** Total attempts allowed, the first included (docs/behaviour.md#retries). */
  max_retries: number;
  /** Seconds between a failure and the retry. */
  retry_interval: number;
  cron_expr: string | null;
  /** IANA time zone of the cron expression (`UTC` unless given). */
  cron_tz: string | null;
  /** Workflow root (null for a root). */
  root_id: TaskId | null;
  parent_id: TaskId | null;
  total_children: number;
  completed_children: number;
  /** Last claimer (kept after completion or failure). */
  worker_id: string | null;
  /** Claim time of the current or last attempt. */
  start_time: number | null;
  /** Binary snapshot set by `next(defs, context)` or `suspend({context})`. */
  context: Uint8Array | null;
  /** Number of times this task has been claimed: the current attempt's number while running. */
  attempt: number;
  /** Why the task is suspended (`awaiting_subtasks` or the handler's reason); null otherwise. */
  suspend_reason: string | null;
  /** How the wait before a retry grows: `fixed` (`retry_interval` each time) or `exponential`. */
  retry_backoff: RetryBackoff;
  /** Longest wait before a retry in seconds (caps `exponential`); null: no cap. */
  retry_max_interval: number | null;
  /** Fraction (0..1) of each retry wait that is randomised (0: none). */
  retry_jitter: number;
  /** Deduplication key given at enqueue; kept after the task left its scope. */
  unique_key: string | null;
  /** While the key keeps duplicates out: `pending`, `unfinished` or `period`; null without a key. */
  unique_scope: UniqueScope | null;
  /** End (ms) of a `period` scope; null otherwise. */
  unique_until: number | null;
  /** W3C trace context of the span that enqueued the task (JSON text), or null. */
  trace_context: string | null;
  /**
   * The key its handler's `max_concurrent_per_key` counts and shares the name's claims across
   * (a tenant, an account, a document), or null (docs/behaviour.md#flow-control).
   */
  concurrency_key: string | null;
  /**
   * The task name a dead letter is enqueued under when this task fails for good
   * (docs/behaviour.md#dead-letters), or null: none.
   */
  dead_letter: string | null;
  /**
   * What this child's failure for good does to its parent (docs/behaviour.md#child-failure-rules):
   * `fail`, `ignore`, or `continue` (also when null, for top-level tasks and children created
   * without a rule).
   */
  on_failure: ChildFailureRule | null;
  /**
   * True for a flow's task created with children (docs/behaviour.md#flows): a retry, a recovery and
   * an operator's resume or retry keep its stage and its children's results, so its handler runs
   * again with them.
   */
  keep_stage: boolean;
  /**
   * When a timed wait ends (ms, database clock): the due time of a sleep, or the deadline of a
   * signal wait with a timeout; null unless the task is `suspended` in such a wait
   * (docs/behaviour.md#durable-sleep, #signals).
   */
  wake_at: number | null;
  /** The signal name a task `suspended` with `suspend_reason: 'signal'` waits for; null otherwise (docs/behaviour.md#signals). */
  awaited_signal: string | null;
  /**
   * How the task's latest signal wait ended (the signal and its data, or the timeout), kept until
   * the next signal wait; null before the first one, while a wait is on, when `resumeTask` ended
   * one, and after `retryTask` (docs/behaviour.md#signals).
   */
  received_signal: ReceivedSignal | null;
}

/** How a signal wait ended, as the handler reads it on its next stage (`task.received_signal`, docs/behaviour.md#signals). */
export interface ReceivedSignal {
  /** The signal waited for. */
  name: string;
  /** True when the wait's timeout passed before a signal came; `data`, `signal_id` and `sent_at` are null then. */
  timed_out: boolean;
  /** The data sent with the signal (JSON), or null. */
  data: unknown;
  /** The signal's id in `taskmill_task_signals`, or null. */
  signal_id: number | null;
  /** When it was sent (ms, database clock), or null. */
  sent_at: number | null;
}

/**
 * What a child's failure for good (retries exhausted, a non-retryable failure, a cancel) does to
 * its parent (docs/behaviour.md#child-failure-rules): `fail` the parent at once (its unfinished
 * children are cancelled), `ignore` it (left out of the parent's results), or `continue` (the
 * parent sees `{task_id, error}` among its results; the default).
 */
export const CHILD_FAILURE_RULES = ['fail', 'ignore', 'continue'] as const;
/** One of {@link CHILD_FAILURE_RULES}. */
export type ChildFailureRule = (typeof CHILD_FAILURE_RULES)[number];

/** How the wait before a retry grows (docs/behaviour.md#retries for `fixed`). */
export type RetryBackoff = 'fixed' | 'exponential';

/**
 * How long a `unique_key` keeps duplicates (of the same task name) out: while the task waits to
 * run (`pending`), until it has finished (`unfinished`), or for a number of seconds (`period`).
 */
export type UniqueScope = 'pending' | 'unfinished' | 'period';

/** An execution round of a task (docs/behaviour.md#attempts). Times in ms. */
export interface TaskAttempt {
  id: number;
  task_id: TaskId;
  attempt: number;
  worker_id: string | null;
  started_at: number;
  ended_at: number | null;
  outcome: AttemptOutcome | null;
  error: string | null;
  timeout_flag: boolean;
}

/** A persisted audit event (docs/behaviour.md#events). `root_id` of a root task's event is the task's own id. */
export interface TaskEvent {
  id: number;
  task_id: TaskId;
  root_id: TaskId | null;
  parent_id: TaskId | null;
  event_type: EventType;
  from_status: TaskStatus | null;
  to_status: TaskStatus | null;
  stage: number | null;
  worker_id: string | null;
  attempt: number | null;
  event_time: number;
  message: string | null;
  metadata: Record<string, unknown> | null;
}

/** A row of the worker registry (docs/behaviour.md#worker-registry). Times in ms. */
export interface WorkerRecord {
  worker_id: string;
  pod_id: string | null;
  status: WorkerStatus;
  host: string | null;
  pid: number | null;
  registered_at: number;
  last_seen_at: number;
  expires_at: number;
  superseded_at: number | null;
  dead_at: number | null;
  meta: Record<string, unknown> | null;
}

/** A page of a paged query (docs/behaviour.md#queries). */
export interface Page<T> {
  items: T[];
  /** Rows matching the filters, on every page (a cursor does not narrow it). */
  total: number;
  /** `null` when no limit was requested. */
  limit: number | null;
  /** Rows skipped before this page; `null` on a page read by `cursor`, whose position is not counted. */
  offset: number | null;
  has_more: boolean;
  /**
   * Opaque keyset cursor of the row after this page's last one, or null when there is no more. Pass
   * it as `cursor` (with the same filters) to read the next page: a cursor page costs the same
   * wherever it is in the log, unlike a deep `offset`.
   */
  next_cursor: string | null;
}

/** Pagination options shared by every paged query. */
export interface PageOptions {
  /** Positive integer. */
  limit?: number;
  /** Non-negative integer; only applied together with `limit`. */
  offset?: number;
  /** `'asc'` or `'desc'`, in any case; another value is a ValidationError. (Default: `'asc'`) */
  order?: 'asc' | 'desc';
  /**
   * A page's `next_cursor`: continue after that page (keyset paging). Needs `limit`; not with
   * `offset`; the order is the cursor's own (an `order` given with it must agree).
   */
  cursor?: string;
}

/** Filters of `queryTasks` (docs/behaviour.md#queries). Every given field is ANDed. */
export interface TaskQuery extends PageOptions {
  tag?: string;
  status?: TaskStatus;
  name?: string;
  worker_id?: string;
  parent_id?: TaskId;
  root_id?: TaskId;
  type?: TaskType;
  /** `id = X OR root_id = X`. */
  workflow_root_id?: TaskId;
  /** Only suspended tasks with this `suspend_reason` (e.g. `awaiting_subtasks`). */
  suspend_reason?: string;
  /**
   * Inclusive upper bound on `next_run_time` (ms): with `status` `pending`, `failed` or `timeout`,
   * the tasks a claim at that time may take (0 and non-numbers are ignored, as for the event bounds).
   */
  next_run_before?: number;
}

/** Filters of the event queries (docs/behaviour.md#queries). */
export interface EventQuery extends PageOptions {
  event_type?: EventType;
  event_types?: EventType[];
  worker_id?: string;
  parent_id?: TaskId;
  attempt?: number;
  stage?: number;
  /** Inclusive lower bound on `event_time` (ms). */
  started_after?: number;
  /** Inclusive upper bound on `event_time` (ms). */
  started_before?: number;
}

/** Filters of the attempt queries (docs/behaviour.md#queries). */
export interface AttemptQuery extends PageOptions {
  worker_id?: string;
  outcome?: AttemptOutcome;
  started_after?: number;
  started_before?: number;
  ended_after?: number;
  ended_before?: number;
  /** Only attempts still open (`ended_at IS NULL`). */
  open_only?: boolean;
}

/** One row of `getTaskStatsByTag`. */
export interface TagStat {
  tag: string | null;
  name: string;
  status: TaskStatus;
  count: number;
}

/** Filters of `deleteTasks`; all ANDed, none = every task. */
export interface DeleteTasksFilter {
  tag?: string;
  status?: TaskStatus;
  name?: string;
}
