import type { BulkAction, BulkBatchInput, BulkBatchResult, BulkFilter } from './bulk-actions.js';
import type { ChildFailureRule, DeleteTasksFilter, Page, RetryBackoff, TagStat, Task, TaskId, TaskQuery, UniqueScope } from './records.js';
import type { ScheduleQuery } from './schedules.js';
import type { TaskStatus, TaskType } from './statuses.js';

/*
 * The task part of the Store contract (see store.ts for the rules every store keeps): creating,
 * claiming, heartbeating and finishing tasks, manual control, the timeout sweep, task reads and
 * deletes, with their inputs and results.
 */

/** Identifies one attempt of a claimed task: the lease a worker must hold to write about it. */
export interface Fence {
  task_id: TaskId;
  worker_id: string;
  /** The attempt number handed out by the claim. A reclaim by the same worker gets a new one. */
  attempt: number;
}

/** A new top-level task (`async` or `cron`). All values are validated and defaulted by core. */
export interface NewTask {
  name: string;
  type: TaskType;
  /** JSON text, or null. */
  payload: string | null;
  priority: number;
  tag: string | null;
  /** ms */
  next_run_time: number;
  /** seconds */
  timeout: number;
  max_retries: number;
  /** seconds */
  retry_interval: number;
  cron_expr: string | null;
  cron_tz: string | null;
  retry_backoff: RetryBackoff;
  /** seconds, or null (no cap) */
  retry_max_interval: number | null;
  /** 0..1 */
  retry_jitter: number;
  /** At most one unfinished/pending/in-period task of this name holds this key (see `UniqueScope`). */
  unique_key: string | null;
  unique_scope: UniqueScope | null;
  /** ms; end of a `period` scope. */
  unique_until: number | null;
  /** W3C trace context (JSON text) of the enqueuing span, or null. */
  trace_context: string | null;
  /** Per-key concurrency and fair share (docs/behaviour.md#flow-control); null: no key. */
  concurrency_key: string | null;
  /** Where a dead letter goes when the task fails for good (docs/behaviour.md#dead-letters); null: none. Absent: null. */
  dead_letter?: string | null;
  /**
   * What a duplicate of a unique task does: `return` the holder's id (default), `error`
   * (`DuplicateTaskError`, and the whole call writes nothing) or `replace` (the holder's payload
   * becomes this task's while the holder is `pending` at stage 0; its id is returned). Not stored.
   */
  on_duplicate?: OnDuplicate;
  /**
   * Debounce (docs/behaviour.md#debounce-and-replace): a duplicate moves a `pending` holder at
   * stage 0 to this task's `next_run_time` when that is later. Core sets `next_run_time` to
   * `now + debounce`. Not stored. (Default: false)
   */
  debounce?: boolean;
}

/** What enqueuing a task whose `unique_key` is already held does (see {@link NewTask.on_duplicate}). */
export type OnDuplicate = 'return' | 'error' | 'replace';

/** A child created by `next()`; always `async`, `pending`, due at once, never unique. */
export interface NewChildTask {
  name: string;
  payload: string | null;
  priority: number;
  tag: string | null;
  timeout: number;
  max_retries: number;
  retry_interval: number;
  retry_backoff: RetryBackoff;
  retry_max_interval: number | null;
  retry_jitter: number;
  trace_context: string | null;
  /** Per-key concurrency and fair share; null: no key. */
  concurrency_key: string | null;
  /** Where a dead letter goes when the child fails for good; null or absent: none. */
  dead_letter?: string | null;
  /** What its failure for good does to its parent (docs/behaviour.md#child-failure-rules); null or absent: `continue`. */
  on_failure?: ChildFailureRule | null;
}

/**
 * A flow created up front (docs/behaviour.md#flows): a top-level task and its children, nested.
 * Validated and defaulted by core. A task with children is inserted `suspended`
 * (`awaiting_subtasks`, `total_children` = their number); a task without is `pending` at its
 * `next_run_time`.
 */
export interface NewFlow {
  /** The root: a top-level `async` task. Its unique key (scope `unfinished` or `period`) decides a duplicate flow. */
  task: NewTask;
  children: NewFlowChild[];
}

/** A child of a flow, with its own children. */
export interface NewFlowChild {
  task: NewChildTask;
  /** ms; when a task without children becomes due (a delay). Ignored for a task with children. */
  next_run_time: number;
  children: NewFlowChild[];
}

/** The ids of a flow's tasks, shaped as the flow was given. */
export interface FlowIds {
  id: TaskId;
  children: FlowIds[];
}

/** What {@link TaskStore.createFlow} returns. */
export interface FlowResult extends FlowIds {
  /** False when the root's unique key was held: nothing was written, `id` is the holder's, `children` empty. */
  created: boolean;
}

/** What {@link TaskStore.cancelTaskTree} returns. */
export interface CascadeCancelResult {
  /** The task named, after the call. */
  task: Task;
  /** Every task the call cancelled (the named one when it was unfinished, then its unfinished descendants), parents first. */
  cancelled: TaskId[];
}

/** Input of {@link TaskStore.claimTasks}. */
export interface ClaimRequest {
  worker_id: string;
  now: number;
  /** Claim at most this many tasks (the free slots). 0 claims nothing. */
  limit: number;
  /** Only tasks with these names; empty claims nothing. */
  names: string[];
  /** Per-name caps for this claim (free per-type slots); names absent here are only bound by `limit`. */
  name_limits?: Record<string, number>;
  /**
   * Cluster-wide caps: at most this many tasks of the name `running` at once across every worker
   * on the database, counted (and claimers of the name serialised) inside the claim transaction.
   */
  cluster_limits?: Record<string, number>;
  /**
   * Rate limits: at most `max` claims (attempt starts) of the name in any window of `per_ms`,
   * counted from the recorded start times of its attempts across every worker, inside the claim
   * transaction (claimers of the name serialised as for `cluster_limits`).
   */
  rate_limits?: Record<string, RateLimit>;
  /**
   * Per-key limits: at most this many tasks of the name with the same `concurrency_key` running at
   * once across every worker; the name's claims take one key after another in turn (fair share),
   * the tasks of one key in claim order. Tasks of the name without a key are one more turn, not
   * limited per key.
   */
  key_limits?: Record<string, number>;
}

/** A rate limit as a claim enforces it (see {@link ClaimRequest.rate_limits}). */
export interface RateLimit {
  /** Claims allowed in any window (>= 1). */
  max: number;
  /** The window's length in ms (>= 1). */
  per_ms: number;
}

/** What {@link TaskStore.claimBatch} returns. */
export interface ClaimResult {
  /** The claimed tasks, in the order they should start. */
  tasks: Task[];
  /**
   * When a claim could take tasks a limit held back this time (database time, ms): the end of the
   * rate window that refused them, or `now` when a fair-share pass stopped before visiting every
   * key. Null when no limit held anything back: wait for a wake-up or the next poll.
   */
  retry_at: number | null;
}

/**
 * A type's cluster-wide limits as a worker publishes them in its registry row (`meta.flow_limits`,
 * by name), for operators' tools: `per` in seconds.
 */
export interface FlowLimits {
  rate_limit?: { max: number; per: number };
  max_concurrent_per_key?: number;
  cluster_max_concurrent_tasks?: number;
}

/** A task name paused cluster-wide (see {@link TaskStore.pauseName}). */
export interface NamePause {
  name: string;
  /** ms */
  paused_at: number;
  /** Who paused it (free text, for the audit trail), or null. */
  paused_by: string | null;
  reason: string | null;
}

/**
 * How an attempt ended, as decided by core. The store applies it atomically, fenced.
 *
 * - `completed`: async success → `completed` with `result`; attempt `completed`; event
 *   `task_completed`; if the task is a child its parent is credited (and resumed if it was the last).
 * - `rescheduled`: cron success → `pending` at `next_run_time`, stage 0, retry_count 0,
 *   `result` stored; attempt `completed`; event `task_status_changed` (metadata.next_run_time).
 * - `failed`: the handler threw or timed out. The store reads the locked row and applies
 *   {@link planFailure}: with attempts left the task stays `failed`/`timeout` with
 *   `next_run_time = now + retryDelayMs(task)` (`retry_interval` for the fixed backoff; event
 *   `task_failed`/`task_timed_out` with `retry_delay` in seconds); when
 *   exhausted it moves on to `permanently_failed` (async; parent credited) or `paused` (cron) with a
 *   second event (`task_permanently_failed`/`task_paused`, `retry_exhausted: true`). Attempt closes
 *   with outcome `failed`/`timeout`, `error`, `timeout_flag`. A flow's parent (`keep_stage`) with
 *   attempts left goes to `pending` at the retry time instead, `retry_count + 1`, stage and
 *   children results kept, with `task_retry_scheduled` after the failure event (docs/behaviour.md#flows).
 * - `suspended`: explicit `task.suspend()` → `suspended` with `suspend_reason`, stage unchanged,
 *   context replaced only when given; children results reset to empty; attempt `suspended`; event
 *   `task_suspended` (metadata `suspend_reason` and the handler's metadata).
 * - `spawned`: `next(children, context?)` → see docs/behaviour.md#workflows: parent `suspended`
 *   (`suspend_reason = 'awaiting_subtasks'`), `total_children += n`, children results reset,
 *   context replaced when given, attempt `suspended`; children inserted `pending` (type async,
 *   `parent_id`, `root_id` = parent's root or the parent), events: each child's `task_created`,
 *   then parent's `task_subtasks_created`, then `task_status_changed` (running → suspended). With
 *   zero children the parent is resumed in the same transaction (`pending`, stage + 1, event
 *   `task_status_changed` with `resume_reason: 'children_completed'`).
 * - `sleep`: `task.sleep()` (docs/behaviour.md#durable-sleep) → `suspended` with `suspend_reason
 *   = 'sleep'`, `wake_at` and `next_run_time` = `wake_at`, context replaced only when given,
 *   attempt `suspended`; event `task_suspended` (metadata `suspend_reason`, `wake_at`). A due
 *   `wake_at` is ended by {@link TaskStore.wakeDueTasks}.
 * - `wait_signal`: `task.waitForSignal()` (docs/behaviour.md#signals). When an unconsumed signal of
 *   that name was already sent to the task (read under the task's row lock), the oldest is
 *   consumed and the task goes on at once: `pending` at stage + 1, due now, `received_signal` set;
 *   events `task_suspended` then `task_resumed` (`resume_reason: 'signal'`). Otherwise
 *   `suspended` with `suspend_reason = 'signal'`, `awaited_signal` = the name, `wake_at` =
 *   `timeout_at` (or null: no timeout); event `task_suspended`.
 * - `interrupted`: the worker gave up on the attempt without it failing (graceful stop deadline)
 *   → `pending`, stage 0, due now, no retry consumed; attempt `interrupted`; event `task_recovered`
 *   with `recovery_reason` and `recovered_by_pod_id` = `by_pod_id`.
 */
export type FinishOutcome =
  | { kind: 'completed'; result: string | null }
  | {
      kind: 'rescheduled';
      result: string | null;
      next_run_time: number;
      /**
       * The expression `next_run_time` was computed from (the claimed row's `cron_expr` and
       * `cron_tz`). When the row's differ at finish, a schedule update changed them during the run
       * and set the row's `next_run_time` from the new ones: that time stands
       * (docs/behaviour.md#schedules). Absent: `next_run_time` stands.
       */
      basis?: { cron_expr: string | null; cron_tz: string | null };
    }
  | {
      kind: 'failed';
      status: 'failed' | 'timeout';
      error: string;
      /** Set for timeouts: `total` (attempt ran past `timeout`), `heartbeat`, or `check` (`checkTimeout()`). */
      timeout_type?: TimeoutType;
      /**
       * The handler said not to retry (it threw a `PermanentError`): the task is exhausted at once,
       * whatever attempts are left (docs/behaviour.md#non-retryable-failures).
       */
      permanent?: boolean;
    }
  | { kind: 'suspended'; reason: string; metadata?: Record<string, unknown> | null; context?: Uint8Array | null }
  | { kind: 'spawned'; children: NewChildTask[]; context?: Uint8Array | null }
  | { kind: 'interrupted'; reason: 'shutdown_timeout'; by_pod_id: string | null }
  | { kind: 'sleep'; wake_at: number; context?: Uint8Array | null }
  | { kind: 'wait_signal'; name: string; timeout_at: number | null; context?: Uint8Array | null };

/** What {@link TaskStore.sendSignal} did. */
export interface SignalSent {
  /** The signal's id in `taskmill_task_signals`. */
  signal_id: number;
  /** True when the task was waiting for this signal and resumed in the same transaction. */
  resumed: boolean;
}

/** What {@link TaskStore.wakeDueTasks} did. */
export interface WakeResult {
  /** Tasks whose timed wait ended (a sleep that is due, a signal wait that timed out), now `pending`. */
  woken: TaskId[];
  /** The earliest `wake_at` still waiting after this call (ms, database clock), or null: none. */
  next_wake_at: number | null;
}

/** Why an attempt timed out. */
export type TimeoutType = 'total' | 'heartbeat' | 'check';

/** One attempt's outcome in a grouped finish ({@link TaskStore.finishAttempts}). */
export interface FinishItem {
  fence: Fence;
  outcome: FinishOutcome;
}

/** Result of {@link TaskStore.finishAttempt}. */
export interface FinishResult {
  /** False when the fence no longer held: nothing was changed. */
  applied: boolean;
  /** The task after the change (or as found, when not applied); null if it no longer exists. */
  task: Task | null;
  /** Ids of children created by a `spawned` outcome, in definition order. */
  child_ids: TaskId[];
}

/** A progress or checkpoint event written by a handler (docs/behaviour.md#progress-and-checkpoints). Validated by core. */
export interface TaskNoteInput {
  event_type: 'task_progress' | 'task_checkpoint';
  message: string;
  metadata: Record<string, unknown>;
  /** Progress only: snapshot fields to update on the task row (absent keys are left alone). */
  progress?: { current_stage_name?: string; progress_text?: string; progress_percent?: number };
  /** Stage recorded on the event (default: the task's current stage). */
  stage?: number;
}

/** A running task the maintenance sweep timed out, so its owner can abort the handler. */
export interface TimedOutTask extends Fence {
  timeout_type: 'total' | 'heartbeat';
}

/** Task lifecycle operations. */
export interface TaskStore {
  /**
   * Insert top-level tasks (`pending`) and their `task_created` events in one transaction; all or
   * nothing. Returns the ids in input order.
   *
   * Unique tasks (`unique_key` set): at most one task of a name holds a key while its scope lasts
   * (`unique_scope`: `pending` until first claimed or paused/finished; `unfinished` until
   * `completed` or `permanently_failed`, cancel included; `period` until `unique_until`). A
   * duplicate is not inserted: its id in the result is the holder's (also for a duplicate of an
   * earlier task of the same call), or with `on_duplicate: 'error'` the call throws
   * `DuplicateTaskError` and writes nothing. With `on_duplicate: 'replace'` or `debounce`, a
   * duplicate changes a holder that is still `pending` at stage 0 (its payload, its later
   * `next_run_time`) with a `task_replaced` event, under the holder's row lock; any other holder is
   * left as it is (docs/behaviour.md#debounce-and-replace). Duplicates inside one call fold into the
   * earlier task before it is written. Race-free across processes: a UNIQUE index over
   * `(name, unique_slot)` decides, never a read before the write. An expired `period` holder is
   * released (compare-and-set) in the same transaction before the new task takes the key.
   */
  createTasks(tasks: NewTask[], now: number): Promise<TaskId[]>;

  /**
   * Transactional enqueue: insert tasks exactly as {@link createTasks} does (same rows, same
   * events, same rules), but inside a transaction the application opened, so they commit or roll
   * back with it and no other connection sees them before its commit. The store never begins,
   * commits, rolls back or retries that transaction. Cross-process wake-ups follow its commit
   * (PostgreSQL's NOTIFY is delivered at commit; the MySQL probe and the SQLite file watch see
   * the committed write).
   *
   * `handle` is the application's transaction, as the store's driver knows it:
   * - PostgreSQL: a postgres-js transaction (`sql.begin(async (tx) => …)`'s `tx`), or a drizzle
   *   postgres-js transaction. Statements target the store's schema.
   * - MySQL/MariaDB: a mysql2 promise `Connection`/`PoolConnection` inside `BEGIN`, or a drizzle
   *   mysql2 transaction (or database over one connection), using the store's database.
   * - SQLite: a better-sqlite3 `Database` of the store's file inside a transaction
   *   (`db.transaction(fn)`, `BEGIN`), or a drizzle better-sqlite3 database/transaction over one.
   *   better-sqlite3 transactions are synchronous: every statement runs during this call, the
   *   returned promise is already settled, and an error is thrown synchronously (so the
   *   caller's transaction function throws and rolls back) instead of being returned as a rejection.
   *
   * Anything else — a pool, a closed connection, a handle not inside a transaction, one of
   * another database or schema — is a `ValidationError`, and nothing is written. Returns the ids
   * in input order. Optional: a store without it cannot enqueue in foreign transactions.
   */
  createTasksWithin?(handle: unknown, tasks: NewTask[], now: number): Promise<TaskId[]>;

  /**
   * Create or update in place the managed schedule `(task.name, task.unique_key)`
   * (docs/behaviour.md#schedules). `task` is a `cron` task with `unique_key` of scope `unfinished`,
   * validated by core, its `next_run_time` computed from its expression at `now`. The UNIQUE index
   * over `(name, unique_slot)` decides, as for unique tasks: without a holder the row is inserted
   * (event `task_created`). Else the holder is locked and must be a schedule row (`cron`, scope
   * `unfinished`), or `DuplicateTaskError` and nothing is written (a holder whose `period` scope
   * ended by `now` is released first, and the row inserted). Its payload, expression, time
   * zone, priority, tag, timeout, retry settings and concurrency key become the task's; when the
   * expression or time zone changed, its `next_run_time` becomes the task's, except while it waits
   * for a retry (`failed`/`timeout`) or for a workflow stage (`pending` at stage > 0). Its status,
   * attempt, worker and run history are left alone, so a running attempt finishes undisturbed.
   * One `schedule_updated` event when anything changed; nothing is written when nothing did.
   * Returns the row after the call and whether it was inserted.
   */
  upsertSchedule(task: NewTask, now: number): Promise<{ task: Task; created: boolean }>;

  /**
   * Remove the schedule `(name, key)`; false (nothing written) when no schedule row holds it. A
   * row that is not running is cancelled (`permanently_failed`, error `Schedule removed`). A running
   * one releases its key and becomes an `async` task: its attempt finishes as a one-off task's
   * would (completed, or failed and retried like one), and it is never rescheduled. Events:
   * `schedule_removed`, then for a cancelled row `task_permanently_failed` (`cancelled: true`).
   */
  removeSchedule(name: string, key: string, now: number): Promise<boolean>;

  /** The schedule rows (see `isScheduleTask`), paged in creation order like `queryTasks`; `name` filters. */
  listSchedules(query: ScheduleQuery): Promise<Page<Task>>;

  /**
   * Create a flow (docs/behaviour.md#flows) in ONE transaction, all or nothing: the root, then each
   * level of children (`parent_id`, `root_id` = the root), every task with children `suspended`
   * awaiting them, the rest `pending`. Events: every task's `task_created` (to its status), parents
   * before children, then each parent's `task_subtasks_created`. A root whose unique key is held
   * writes nothing (or, with `on_duplicate: 'error'`, throws `DuplicateTaskError`).
   */
  createFlow(flow: NewFlow, now: number): Promise<FlowResult>;

  /** {@link createFlow} inside the application's transaction, as {@link createTasksWithin}. Optional. */
  createFlowWithin?(handle: unknown, flow: NewFlow, now: number): Promise<FlowResult>;

  /**
   * Claim up to `limit` due tasks in one transaction (docs/behaviour.md#claiming). Candidates: `name` in
   * `names`, `next_run_time <= now`, and status `pending`, or `failed`/`timeout` (a task in those
   * statuses is always waiting for its retry). Order: `priority DESC, next_run_time ASC, id ASC`;
   * at most `name_limits[name]` per capped name, and for a name in `cluster_limits` at most the
   * limit minus the tasks of that name already `running` (claimers of limited names are serialised
   * per name, so concurrent claims never exceed it). A retry candidate first moves to `pending`
   * (`retry_count + 1`, stage 0, result/context cleared, event `task_retry_scheduled` with
   * `{retry_count, previous_status}`). Then each becomes `running` (`worker_id`, `start_time` and
   * `last_active_time` = now, `attempt + 1`), gets an open attempt row, and events `task_claimed`
   * (attempt null), `task_started` (attempt n, `{name, retry_count}`) and `task_retry_started` when
   * `retry_count > 0`. Returns the claimed tasks in claim order.
   *
   * Fenced by the worker registry: a worker whose registry row exists with a status other than
   * `active` (superseded or dead) claims nothing: the check is part of the claim transaction, so a
   * concurrent {@link WorkerRegistryStore.supersedeWorkers} / `reapExpiredWorkers` /
   * `markWorkerDead` either takes effect before the claim (which then claims nothing) or after it
   * has committed (so recovery sees the claimed tasks). A worker without a registry row may claim
   * (stores used without the registry).
   */
  claimTasks(request: ClaimRequest): Promise<Task[]>;

  /**
   * {@link claimTasks} with the hint a claim loop sleeps by: when a rate limit or a fair-share
   * pass held tasks back, the time a new claim may find them (see {@link ClaimResult.retry_at}).
   */
  claimBatch(request: ClaimRequest): Promise<ClaimResult>;

  /**
   * Pause a task name cluster-wide (docs/behaviour.md#flow-control): no claim takes tasks of the
   * name until {@link resumeName}; its tasks stay as they are (pending ones stay pending, running
   * ones finish). Persisted, with a `name_paused` event (`task_id` 0, `metadata.name`). Pausing a
   * paused name changes nothing and writes no event. Returns the pause in force and whether
   * this call made it.
   */
  pauseName(name: string, options: { reason?: string | null; by?: string | null }, now: number): Promise<{ changed: boolean; pause: NamePause }>;

  /** Lift a name's pause with a `name_resumed` event; false (and nothing written) when it was not paused. */
  resumeName(name: string, options: { by?: string | null }, now: number): Promise<boolean>;

  /** The names paused now, by name. */
  listPausedNames(): Promise<NamePause[]>;

  /**
   * Refresh `last_active_time` of the tasks these fences still hold. Returns the ids of fences that
   * no longer hold (the task was paused, cancelled, timed out or recovered): their handlers should
   * be aborted.
   */
  heartbeatTasks(fences: Fence[], now: number): Promise<TaskId[]>;

  /** Apply the outcome of an attempt, fenced. See {@link FinishOutcome}. */
  finishAttempt(fence: Fence, outcome: FinishOutcome, now: number): Promise<FinishResult>;

  /**
   * Apply several attempts' outcomes in ONE transaction (a group commit): each exactly as
   * {@link finishAttempt} would, fenced on its own; results in input order. All or nothing: when
   * it throws, none was written. Tasks are visited in id order, so two groups that touch the
   * same rows (a shared parent) lock them in the same order.
   */
  finishAttempts(items: FinishItem[], now: number): Promise<FinishResult[]>;

  /**
   * Write a `task_progress`/`task_checkpoint` event (attempt = the fence's attempt) and, for
   * progress, update the snapshot fields and `last_active_time`. With a fence the task must be
   * running under it, else `NotOwnerError`; `TaskNotFoundError` for an unknown id. Returns the event id.
   */
  recordTaskNote(taskId: TaskId, fence: Fence | null, note: TaskNoteInput, now: number): Promise<number>;

  /**
   * `pauseTask` (docs/behaviour.md#manual-control): → `paused` from running/pending/failed/timeout. From running the open
   * attempt closes with outcome `paused`. Event `task_paused`. Throws `TaskNotFoundError` /
   * `InvalidTransitionError` and changes nothing then.
   */
  pauseTask(taskId: TaskId, now: number): Promise<Task>;

  /**
   * `resumeTask`: → `pending` due now, `retry_count = 0`, `suspend_reason = null`. From `suspended`:
   * stage + 1, children results reset to empty, event `task_resumed` (`resume_reason`, default
   * `manual`). From paused/failed/timeout/running: stage 0, event `task_status_changed`; from running
   * the open attempt closes with outcome `pending`.
   */
  resumeTask(taskId: TaskId, options: { resume_reason?: string }, now: number): Promise<Task>;

  /**
   * `cancelTask`: → `permanently_failed` with `error = reason ?? 'Task cancelled'` from any status but
   * completed/permanently_failed; from running the open attempt closes with outcome `cancelled`.
   * Event `task_permanently_failed` (`{error, cancelled: true}`). A child is credited to its parent
   * (with its error) in the same transaction.
   */
  cancelTask(taskId: TaskId, options: { reason?: string }, now: number): Promise<Task>;

  /**
   * Cascade cancel (docs/behaviour.md#cascade-cancel), in ONE transaction: the task and every
   * unfinished descendant (children, their children…, whatever the status of the tasks between)
   * become `permanently_failed` as {@link cancelTask} makes them, parents first, so no cancelled
   * child resumes a parent. Events `task_permanently_failed` with `cancelled: true, cascade: true,
   * cancelled_by` (the task named). The task named, when it is a child, credits its parent as a
   * cancel does. `TaskNotFoundError` for an unknown id; `InvalidTransitionError` when neither the
   * task nor any descendant is unfinished (nothing written).
   */
  cancelTaskTree(taskId: TaskId, options: { reason?: string }, now: number): Promise<CascadeCancelResult>;

  /**
   * `retryTask` (the operator's "run it again"): → `pending` due now, stage 0, result, context and
   * children results cleared, from `failed`/`timeout` (retry_count + 1: the retry it was waiting
   * for, brought forward) or `permanently_failed` (retry_count 0: it starts over). Event
   * `task_retry_scheduled` (`{retry_count, previous_status, manual: true}`). A permanently failed
   * workflow child is refused (it was already credited to its parent; see `canRetry`). Throws
   * `TaskNotFoundError` / `InvalidTransitionError` and changes nothing then.
   */
  retryTask(taskId: TaskId, now: number): Promise<Task>;

  /**
   * Maintenance: time out running tasks past `start_time + timeout*1000 <= now` (`total`) or with
   * `last_active_time < now - heartbeat_timeout_ms` (`heartbeat`), at most `limit`, each by a guarded
   * compare-and-set (safe when every worker sweeps at once). Each gets event `task_timed_out`
   * (`{timeout_type, error}`), attempt outcome `timeout` with `timeout_flag`, then
   * {@link planFailure} as for a `failed` outcome. Errors: `Task exceeded total timeout limit` /
   * `Task heartbeat timed out`.
   */
  sweepTimedOutTasks(input: { now: number; heartbeat_timeout_ms: number; limit: number }): Promise<TimedOutTask[]>;

  /**
   * Send a signal to a task (docs/behaviour.md#signals), in one transaction under the task's row
   * lock: `TaskNotFoundError` for an unknown id, `TaskFinishedError` for a `completed` or
   * `permanently_failed` task (nothing written then). Inserts the signal row (`data`: JSON text or
   * null) and a `task_signal_received` event (`{signal, signal_id, resumed}`). When the task is
   * `suspended` waiting for this name the signal is consumed at once and the task resumes:
   * `pending` at stage + 1, due now, `received_signal` set, event `task_resumed`
   * (`resume_reason: 'signal'`). Otherwise it is kept, unconsumed, for a later wait of that name
   * (oldest first).
   */
  sendSignal(taskId: TaskId, name: string, data: string | null, now: number): Promise<SignalSent>;

  /**
   * Maintenance (docs/behaviour.md#durable-sleep): end the timed waits due by `now` (`suspended`
   * with `wake_at <= now`), at most `limit`, earliest first, each a guarded compare-and-set (safe
   * when every worker runs it at once): a sleep resumes (`resume_reason: 'sleep_elapsed'`), a
   * signal wait times out (`resume_reason: 'signal_timeout'`, `received_signal.timed_out`); both
   * `pending` at stage + 1, due now, event `task_resumed` with `wake_at`. Also returns the
   * earliest `wake_at` still waiting, so the caller can come back exactly then.
   */
  wakeDueTasks(input: { now: number; limit: number }): Promise<WakeResult>;

  /** One task or null (an id that is not a safe positive integer finds nothing). */
  getTask(taskId: TaskId): Promise<Task | null>;

  /** Paged task query, ordered by `created_at, id` (docs/behaviour.md#queries). Filters are bound parameters. */
  queryTasks(query: TaskQuery): Promise<Page<Task>>;

  /** Counts grouped by tag, name, status, ordered the same; filters apply when given. */
  getTaskStatsByTag(tag?: string, status?: TaskStatus): Promise<TagStat[]>;

  /** Delete matching tasks with their events and attempts in one transaction; returns the task count. */
  deleteTasks(filter: DeleteTasksFilter): Promise<number>;

  /**
   * How many tasks a bulk action's filter selects now (docs/behaviour.md#bulk-actions): matching
   * every criterion and in a status the action accepts. Validates the filter as
   * {@link bulkActionBatch} does; writes nothing.
   */
  countBulkTasks(action: BulkAction, filter: BulkFilter): Promise<number>;

  /**
   * One batch of a bulk action, in ONE transaction: the first `batch.limit` tasks by id after
   * `batch.after` that match the filter in a status the action accepts, locked; each re-checked and
   * changed by exactly the rule (and with the events) of its per-task action, or deleted with its
   * events and attempts. A task whose status no longer allows the action, or whose unique key
   * another task holds, is skipped. A bad action, filter or batch is a `ValidationError` and nothing
   * is written.
   */
  bulkActionBatch(action: BulkAction, filter: BulkFilter, batch: BulkBatchInput, now: number): Promise<BulkBatchResult>;
}
