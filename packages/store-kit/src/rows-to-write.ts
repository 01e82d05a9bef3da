import { NEW_TASK_DEFAULTS, type AttemptOutcome, type ChildFailureRule, type EventType, type NewTask, type RetryBackoff, type TaskId, type TaskStatus, type TaskType } from '@taskmill/contracts';
import { EVENT_COLUMNS } from './tables.js';
import type { EventDraft } from './event-drafts.js';

/*
 * The rows a store writes, as plain values: what to insert into the tasks table, what to change in
 * a task row, how attempt rows open and close, and an event row ready for INSERT. Stores render
 * them as SQL; they never decide their contents.
 */

/**
 * A task row to insert: a new task with its place in a workflow and its first event stamped;
 * `pending`, or `suspended` awaiting `total_children` children (a flow's parent, docs/behaviour.md#flows).
 */
export type TaskInsert = NewTask & {
  status: 'pending' | 'suspended';
  /** `awaiting_subtasks` for a flow's parent, else null. */
  suspend_reason: string | null;
  total_children: number;
  /** `''` for a flow's parent (its batch has no outcome yet), else null. */
  children_results: string | null;
  /** A child's rule for its failure (docs/behaviour.md#child-failure-rules); null: `continue`. */
  on_failure: ChildFailureRule | null;
  /** 1 for a flow's task with children (docs/behaviour.md#flows), else 0. */
  keep_stage: 0 | 1;
  /** `unique_key` while the key's scope holds (a UNIQUE index over `name, unique_slot`), else null. */
  unique_slot: string | null;
  created_at: number;
  root_id: TaskId | null;
  parent_id: TaskId | null;
  last_event_time: number;
  last_event_type: EventType;
  dead_letter: string | null;
};

/** Columns of {@link TaskInsert}, in the order stores list them in their INSERT. */
export const TASK_INSERT_COLUMNS = [
  'name',
  'type',
  'payload',
  'priority',
  'tag',
  'status',
  'created_at',
  'next_run_time',
  'timeout',
  'max_retries',
  'retry_interval',
  'cron_expr',
  'cron_tz',
  'root_id',
  'parent_id',
  'last_event_time',
  'last_event_type',
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
  'suspend_reason',
  'total_children',
  'children_results',
  'keep_stage',
] as const satisfies readonly (keyof TaskInsert)[];

/**
 * Columns of {@link TaskInsert} whose table default (given by every store's migration) is this
 * value: a row holding the default in each may leave them out of its INSERT.
 */
export const TASK_INSERT_DEFAULTS = { ...NEW_TASK_DEFAULTS, unique_slot: null, on_failure: null, suspend_reason: null, total_children: 0, children_results: null, keep_stage: 0 } as const satisfies Partial<TaskInsert>;

const DEFAULT_ENTRIES = Object.entries(TASK_INSERT_DEFAULTS) as Array<[keyof TaskInsert, unknown]>;

/** {@link TASK_INSERT_COLUMNS} without the columns of {@link TASK_INSERT_DEFAULTS}. */
export const TASK_INSERT_BASE_COLUMNS = TASK_INSERT_COLUMNS.filter((column) => !Object.hasOwn(TASK_INSERT_DEFAULTS, column));

/**
 * The columns an INSERT of these rows lists: the base columns when every row leaves every
 * defaulted column at its default (a plain batch then binds a third fewer parameters), else all.
 * Two fixed lists, so statement texts stay stable for prepared-statement caches.
 */
export function insertColumnsFor(rows: readonly TaskInsert[]): readonly (typeof TASK_INSERT_COLUMNS)[number][] {
  for (const row of rows) {
    for (const [column, value] of DEFAULT_ENTRIES) if (row[column] !== value) return TASK_INSERT_COLUMNS;
  }
  return TASK_INSERT_BASE_COLUMNS;
}

/** New values for some columns of a task row. Absent keys are left alone. */
export interface TaskPatch {
  status?: TaskStatus;
  worker_id?: string | null;
  start_time?: number | null;
  last_active_time?: number;
  attempt?: number;
  next_run_time?: number;
  stage?: number;
  retry_count?: number;
  /** JSON text. */
  result?: string | null;
  error?: string | null;
  context?: Uint8Array | null;
  children_results?: string | null;
  suspend_reason?: string | null;
  total_children?: number;
  current_stage_name?: string | null;
  progress_text?: string | null;
  progress_percent?: number | null;
  last_event_time?: number;
  last_event_type?: EventType;
  /** null releases the task's unique key; the key takes it back (an operator's retry or resume). */
  unique_slot?: string | null;
  /** JSON text: a duplicate with `on_duplicate: 'replace'` (docs/behaviour.md#debounce-and-replace), or a schedule update. */
  payload?: string | null;
  // a schedule updated in place, or removed while it runs (docs/behaviour.md#schedules)
  type?: TaskType;
  cron_expr?: string | null;
  cron_tz?: string | null;
  priority?: number;
  tag?: string | null;
  timeout?: number;
  max_retries?: number;
  retry_interval?: number;
  retry_backoff?: RetryBackoff;
  retry_max_interval?: number | null;
  retry_jitter?: number;
  concurrency_key?: string | null;
  /** A timed wait's end (docs/behaviour.md#durable-sleep); null when the task leaves `suspended`. */
  wake_at?: number | null;
  /** The signal a waiting task awaits (docs/behaviour.md#signals); null when the task leaves `suspended`. */
  awaited_signal?: string | null;
  /** JSON text of a {@link ReceivedSignal}, or null. */
  received_signal?: string | null;
}

/** Every column a {@link TaskPatch} may set, in a fixed order (stable statement text for caches). */
export const TASK_PATCH_COLUMNS = [
  'status',
  'worker_id',
  'start_time',
  'last_active_time',
  'attempt',
  'next_run_time',
  'stage',
  'retry_count',
  'result',
  'error',
  'context',
  'children_results',
  'suspend_reason',
  'total_children',
  'current_stage_name',
  'progress_text',
  'progress_percent',
  'last_event_time',
  'last_event_type',
  'unique_slot',
  'payload',
  'type',
  'cron_expr',
  'cron_tz',
  'priority',
  'tag',
  'timeout',
  'max_retries',
  'retry_interval',
  'retry_backoff',
  'retry_max_interval',
  'retry_jitter',
  'concurrency_key',
  'wake_at',
  'awaited_signal',
  'received_signal',
] as const satisfies readonly (keyof TaskPatch)[];

/** The `[column, value]` pairs a patch sets, in {@link TASK_PATCH_COLUMNS} order. */
export function patchEntries(patch: TaskPatch): Array<[keyof TaskPatch, TaskPatch[keyof TaskPatch]]> {
  const out: Array<[keyof TaskPatch, TaskPatch[keyof TaskPatch]]> = [];
  for (const column of TASK_PATCH_COLUMNS) {
    if (patch[column] !== undefined) out.push([column, patch[column]]);
  }
  return out;
}

/** The row state a guarded update requires (compare-and-set): status, and worker + attempt when given. */
export interface TaskGuard {
  status: TaskStatus;
  worker_id?: string;
  attempt?: number;
}

/** An attempt row opened by a claim. */
export interface AttemptOpen {
  task_id: TaskId;
  /** The task's name: rate limits count a name's attempts started in a window (docs/behaviour.md#flow-control). */
  name: string;
  attempt: number;
  worker_id: string;
  started_at: number;
  /**
   * The task's `next_run_time` when claimed (a claim takes only tasks due by then): the attempt's
   * wait is `started_at − due_at` (docs/behaviour.md#queue-health).
   */
  due_at: number;
}

/**
 * How an attempt row closes. Only the row of this `attempt` number is closed, and only while it is
 * open: a stale writer can never close a newer attempt, and an older row left open stays as it is.
 */
export interface AttemptClose {
  task_id: TaskId;
  attempt: number;
  ended_at: number;
  outcome: AttemptOutcome;
  error: string | null;
  timeout_flag: boolean;
}

/** An event row ready for INSERT: the draft with `metadata` as JSON text. */
export type EventRow = Omit<EventDraft, 'metadata'> & { metadata: string | null };

/** Every event column but the generated id, in the order stores list them in their INSERT. */
export const EVENT_INSERT_COLUMNS = EVENT_COLUMNS.filter((column): column is Exclude<(typeof EVENT_COLUMNS)[number], 'id'> => column !== 'id');

/** The row to insert for an event draft. */
export function eventRow(draft: EventDraft): EventRow {
  return { ...draft, metadata: draft.metadata === null ? null : JSON.stringify(draft.metadata) };
}
