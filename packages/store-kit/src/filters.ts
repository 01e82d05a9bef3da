import {
  assertStorableText,
  bulkActionStatuses,
  isBulkAction,
  LIMITS,
  type BulkAction,
  ATTEMPT_OUTCOMES,
  isEventType,
  isTaskStatus,
  isTaskType,
  knownKeysObject,
  parseTaskId,
  unknownOption,
  ValidationError,
  type AttemptOutcome,
  type AttemptQuery,
  type DeleteTasksFilter,
  type EventQuery,
  type ScheduleQuery,
  type TaskQuery,
  type TaskStatus,
  type TaskType,
  type WorkerStatus,
} from '@taskmill/contracts';

/*
 * Query filters (docs/behaviour.md#filters, #errors), decided once for every store: which given values filter, which
 * are ignored, which are errors. The result is a list of dialect-neutral conditions over fixed
 * column names; each store only renders them as SQL with bound parameters. Column names come from
 * this file, never from the caller.
 */

/** A column a condition may name. */
export type FilterColumn =
  | 'id'
  | 'task_id'
  | 'name'
  | 'type'
  | 'tag'
  | 'status'
  | 'worker_id'
  | 'pod_id'
  | 'parent_id'
  | 'root_id'
  | 'suspend_reason'
  | 'event_type'
  | 'attempt'
  | 'stage'
  | 'event_time'
  | 'outcome'
  | 'started_at'
  | 'ended_at'
  | 'created_at'
  | 'next_run_time'
  | 'unique_scope'
  | 'unique_slot';

/** One ANDed condition of a query. */
export type Condition =
  /** `column = value` */
  | { kind: 'eq'; column: FilterColumn; value: string | number }
  /** `column IN (values)`; `values` is never empty. */
  | { kind: 'in'; column: FilterColumn; values: readonly (string | number)[] }
  /** `column >= value` / `column <= value` */
  | { kind: 'cmp'; column: FilterColumn; op: '>=' | '<='; value: number }
  /** `column IS NULL` */
  | { kind: 'null'; column: FilterColumn }
  /** `column IS NOT NULL` */
  | { kind: 'not_null'; column: FilterColumn }
  /** A task of a workflow: `(id = root OR root_id = root)` on the tasks table. */
  | { kind: 'in_workflow'; root: number }
  /** An attempt of a workflow's task: `task_id IN (SELECT id FROM tasks WHERE id = root OR root_id = root)`. */
  | { kind: 'task_in_workflow'; root: number }
  /**
   * Keyset position of a cursor page: rows after `(first, second) = values` in the page order,
   * `op` `'>'` ascending, `'<'` descending. Stores render the terms of {@link keysetPredicate}.
   */
  | { kind: 'after'; columns: readonly [FilterColumn, FilterColumn]; op: '>' | '<'; values: readonly [number, number] }
  /** Matches nothing (a filter given with a value no row can have, e.g. an invalid id). */
  | { kind: 'none' };

function given(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

/** A status filter: absent when not given, else one of the eight statuses. */
export function checkStatusFilter(value: unknown): TaskStatus | undefined {
  if (!given(value)) return undefined;
  if (!isTaskStatus(value)) throw new ValidationError(`Invalid status value: ${JSON.stringify(value)}`);
  return value;
}

/** A type filter: absent when not given, else `async` or `cron`. */
export function checkTypeFilter(value: unknown): TaskType | undefined {
  if (!given(value)) return undefined;
  if (!isTaskType(value)) throw new ValidationError(`Invalid task type: ${JSON.stringify(value)}`);
  return value;
}

/** Statuses of a retention batch: a list of valid statuses (may be empty). */
export function checkStatusList(values: unknown): TaskStatus[] {
  if (!Array.isArray(values)) throw new ValidationError('statuses must be an array of task statuses');
  return values.map((value) => {
    if (!isTaskStatus(value)) throw new ValidationError(`Invalid status value: ${JSON.stringify(value)}`);
    return value;
  });
}

const PAGE_KEYS = ['limit', 'offset', 'order', 'cursor'] as const;
const QUERY_KEYS = {
  task: ['tag', 'status', 'name', 'worker_id', 'parent_id', 'root_id', 'type', 'workflow_root_id', 'suspend_reason', 'next_run_before', ...PAGE_KEYS],
  event: ['event_type', 'event_types', 'worker_id', 'parent_id', 'attempt', 'stage', 'started_after', 'started_before', ...PAGE_KEYS],
  attempt: ['worker_id', 'outcome', 'started_after', 'started_before', 'ended_after', 'ended_before', 'open_only', ...PAGE_KEYS],
  schedule: ['name', ...PAGE_KEYS],
} as const satisfies Record<string, readonly (keyof TaskQuery | keyof EventQuery | keyof AttemptQuery | keyof ScheduleQuery)[]>;

/**
 * A query argument: none (undefined/null) or a plain object of known keys, so that a typo such as
 * `{stauts: 'failed'}` is an error instead of a filter silently not applied.
 */
function queryObject(value: unknown, kind: keyof typeof QUERY_KEYS): Record<string, unknown> {
  const messages = { notObject: `${kind} filter must be an object`, unknownKey: unknownOption(`${kind} filter`) };
  return knownKeysObject(value, QUERY_KEYS[kind], messages, ValidationError, { optional: true, accept: 'non-array' });
}

/** An event type filter: absent when not given, else one of the catalogue's (docs/behaviour.md#events). */
function checkEventType(value: unknown): string | undefined {
  if (!given(value)) return undefined;
  if (!isEventType(value)) throw new ValidationError(`Invalid event type: ${JSON.stringify(value)}`);
  return value;
}

/** An attempt outcome filter: absent when not given, else one of ATTEMPT_OUTCOMES. */
function checkOutcome(value: unknown): AttemptOutcome | undefined {
  if (!given(value)) return undefined;
  if (!(ATTEMPT_OUTCOMES as readonly unknown[]).includes(value)) throw new ValidationError(`Invalid attempt outcome: ${JSON.stringify(value)}`);
  return value as AttemptOutcome;
}

class Conditions {
  readonly list: Condition[] = [];

  /**
   * A text filter applies when it is a non-empty string; other values are ignored (docs/behaviour.md#filters). One
   * no store can hold (a NUL, a lone surrogate) is refused: PostgreSQL would fail on it where the
   * others answer.
   */
  text(column: FilterColumn, value: unknown): void {
    if (typeof value === 'string' && value !== '') this.list.push({ kind: 'eq', column, value: assertStorableText(value, column) });
  }

  /** An id filter: absent when null/undefined, matches nothing when not a valid id. */
  id(column: FilterColumn, value: unknown): void {
    if (value === undefined || value === null) return;
    const id = parseTaskId(value);
    this.list.push(id === null ? { kind: 'none' } : { kind: 'eq', column, value: id });
  }

  /** A numeric equality filter (0 included). */
  number(column: FilterColumn, value: unknown): void {
    if (typeof value === 'number' && Number.isFinite(value)) this.list.push({ kind: 'eq', column, value });
  }

  /** An inclusive time bound; 0 and non-numbers are ignored (docs/behaviour.md#queries). */
  bound(column: FilterColumn, op: '>=' | '<=', value: unknown): void {
    if (typeof value === 'number' && Number.isFinite(value) && value !== 0) this.list.push({ kind: 'cmp', column, op, value });
  }

  add(condition: Condition): void {
    this.list.push(condition);
  }
}

/** Conditions of `queryTasks` (docs/behaviour.md#queries). */
export function taskConditions(query: TaskQuery | undefined | null): Condition[] {
  const q = queryObject(query, 'task');
  const c = new Conditions();
  const status = checkStatusFilter(q.status);
  if (status) c.add({ kind: 'eq', column: 'status', value: status });
  const type = checkTypeFilter(q.type);
  if (type) c.add({ kind: 'eq', column: 'type', value: type });
  c.text('tag', q.tag);
  c.text('name', q.name);
  c.text('worker_id', q.worker_id);
  c.id('parent_id', q.parent_id);
  c.id('root_id', q.root_id);
  if (q.workflow_root_id !== undefined && q.workflow_root_id !== null) {
    const root = parseTaskId(q.workflow_root_id);
    c.add(root === null ? { kind: 'none' } : { kind: 'in_workflow', root });
  }
  if (typeof q.suspend_reason === 'string' && q.suspend_reason !== '') {
    c.add({ kind: 'eq', column: 'status', value: 'suspended' });
    c.add({ kind: 'eq', column: 'suspend_reason', value: assertStorableText(q.suspend_reason, 'suspend_reason') });
  }
  c.bound('next_run_time', '<=', q.next_run_before);
  return c.list;
}

/**
 * Conditions of `listSchedules` (docs/behaviour.md#schedules): the rows `isScheduleTask` accepts
 * that hold their key, by `name` when given.
 */
export function scheduleConditions(query: ScheduleQuery | undefined | null): Condition[] {
  const q = queryObject(query, 'schedule');
  const c = new Conditions();
  c.add({ kind: 'eq', column: 'type', value: 'cron' });
  c.add({ kind: 'eq', column: 'unique_scope', value: 'unfinished' });
  c.add({ kind: 'not_null', column: 'unique_slot' });
  c.text('name', q.name);
  return c.list;
}

/** Conditions of `getTaskStatsByTag` and `deleteTasks`: tag, name and status, each only when given. */
export function taskStatConditions(filter: DeleteTasksFilter | undefined | null): Condition[] {
  const f = (filter ?? {}) as Record<string, unknown>;
  const c = new Conditions();
  c.text('tag', f.tag);
  c.text('name', f.name);
  const status = checkStatusFilter(f.status);
  if (status) c.add({ kind: 'eq', column: 'status', value: status });
  return c.list;
}

/** Conditions of the event queries (docs/behaviour.md#queries), without the task/workflow scope. */
export function eventConditions(query: EventQuery | undefined | null): Condition[] {
  const q = queryObject(query, 'event');
  const c = new Conditions();
  c.text('event_type', checkEventType(q.event_type));
  if (Array.isArray(q.event_types) && q.event_types.length > 0) {
    for (const type of q.event_types) {
      if (!isEventType(type)) throw new ValidationError(`Invalid event type: ${JSON.stringify(type)}`);
    }
    c.add({ kind: 'in', column: 'event_type', values: [...new Set(q.event_types as string[])] });
  }
  c.text('worker_id', q.worker_id);
  c.id('parent_id', q.parent_id);
  c.number('attempt', q.attempt);
  c.number('stage', q.stage);
  c.bound('event_time', '>=', q.started_after);
  c.bound('event_time', '<=', q.started_before);
  return c.list;
}

/** Conditions of the attempt queries (docs/behaviour.md#queries), without the task/workflow scope. */
export function attemptConditions(query: AttemptQuery | undefined | null): Condition[] {
  const q = queryObject(query, 'attempt');
  const c = new Conditions();
  c.text('worker_id', q.worker_id);
  c.text('outcome', checkOutcome(q.outcome));
  c.bound('started_at', '>=', q.started_after);
  c.bound('started_at', '<=', q.started_before);
  c.bound('ended_at', '>=', q.ended_after);
  c.bound('ended_at', '<=', q.ended_before);
  if (q.open_only === true) c.add({ kind: 'null', column: 'ended_at' });
  return c.list;
}

/** Conditions of `listWorkers`. */
export function workerConditions(filter: { pod_id?: string; status?: WorkerStatus } | undefined | null): Condition[] {
  const f = (filter ?? {}) as Record<string, unknown>;
  const c = new Conditions();
  if (typeof f.pod_id === 'string') c.add({ kind: 'eq', column: 'pod_id', value: assertStorableText(f.pod_id, 'pod_id') });
  if (typeof f.status === 'string') c.add({ kind: 'eq', column: 'status', value: f.status });
  return c.list;
}

const BULK_FILTER_KEYS = ['name', 'status', 'tag', 'created_after', 'created_before', 'root_id', 'all'] as const;

/** A bulk filter's name or tag: a non-empty storable string of at most LIMITS.max_name_length. */
function bulkText(value: unknown, key: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new ValidationError(`bulk filter ${key} must be a non-empty string`);
  if (value.length > LIMITS.max_name_length) throw new ValidationError(`bulk filter ${key} must be at most ${LIMITS.max_name_length} characters`);
  return assertStorableText(value, key);
}

/** A bulk filter's time bound: ms since the epoch (or a Date) before LIMITS.max_time_ms. */
function bulkTime(value: unknown, key: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms >= LIMITS.max_time_ms) {
    throw new ValidationError(`bulk filter ${key} must be a time in ms since the epoch (or a Date) before year 10000`);
  }
  return ms;
}

/** What a bulk action selects: its conditions and the statuses re-checked on each locked task. */
export interface BulkSelection {
  action: BulkAction;
  conditions: Condition[];
  statuses: readonly TaskStatus[];
}

/**
 * The selection of a bulk action (docs/behaviour.md#bulk-actions). Stricter than the query filters:
 * the action changes what it selects, so a value that cannot filter is an error rather than
 * ignored (which would widen the selection), and a filter without any criterion must say
 * `all: true`.
 */
export function bulkSelection(action: unknown, filter: unknown): BulkSelection {
  if (!isBulkAction(action)) throw new ValidationError(`Invalid bulk action: ${JSON.stringify(action)}; expected one of: retry, cancel, pause, resume, delete`);
  const f = knownKeysObject(filter, BULK_FILTER_KEYS, { notObject: 'bulk filter must be an object', unknownKey: unknownOption('bulk filter') }, ValidationError);
  if (f.all !== undefined && f.all !== true && f.all !== false) throw new ValidationError('bulk filter all must be true or false');
  const accepted = bulkActionStatuses(action);
  let statuses = accepted;
  if (f.status !== undefined) {
    const given = Array.isArray(f.status) ? f.status : [f.status];
    if (given.length === 0) throw new ValidationError('bulk filter status must name at least one status');
    for (const status of given) {
      if (!isTaskStatus(status)) throw new ValidationError(`Invalid status value: ${JSON.stringify(status)}`);
    }
    statuses = accepted.filter((status) => given.includes(status));
    if (statuses.length === 0) {
      throw new ValidationError(`${action} does not apply to ${given.join(', ')} tasks; it takes: ${accepted.join(', ')}`);
    }
  }
  const c = new Conditions();
  c.add({ kind: 'in', column: 'status', values: statuses });
  const name = bulkText(f.name, 'name');
  if (name !== undefined) c.add({ kind: 'eq', column: 'name', value: name });
  const tag = bulkText(f.tag, 'tag');
  if (tag !== undefined) c.add({ kind: 'eq', column: 'tag', value: tag });
  const after = bulkTime(f.created_after, 'created_after');
  const before = bulkTime(f.created_before, 'created_before');
  if (after !== undefined && before !== undefined && after > before) throw new ValidationError('bulk filter created_after is later than created_before');
  if (after !== undefined) c.add({ kind: 'cmp', column: 'created_at', op: '>=', value: after });
  if (before !== undefined) c.add({ kind: 'cmp', column: 'created_at', op: '<=', value: before });
  if (f.root_id !== undefined) {
    const root = parseTaskId(f.root_id);
    if (root === null) throw new ValidationError(`bulk filter root_id must be a task id, got ${JSON.stringify(f.root_id)}`);
    c.add({ kind: 'in_workflow', root });
  }
  const criteria = [name, tag, after, before, f.root_id, f.status].filter((value) => value !== undefined).length;
  if (criteria === 0 && f.all !== true) {
    throw new ValidationError(`bulk ${action} without a filter acts on every task: pass all: true to mean it`);
  }
  return { action, conditions: c.list, statuses };
}

/** A bulk batch's cursor, size and reason, checked (docs/behaviour.md#bulk-actions). */
export function checkBulkBatch(batch: unknown): { after: number; limit: number; reason: string | undefined } {
  const b = knownKeysObject(batch, ['after', 'limit', 'reason'], { notObject: 'bulk batch must be an object', unknownKey: unknownOption('bulk batch') }, ValidationError);
  const after = b.after === 0 ? 0 : parseTaskId(b.after);
  if (after === null) throw new ValidationError(`bulk batch after must be 0 or a task id, got ${JSON.stringify(b.after)}`);
  const limit = b.limit;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > LIMITS.max_bulk_batch_size) {
    throw new ValidationError(`batch_size must be an integer from 1 to ${LIMITS.max_bulk_batch_size}, got ${JSON.stringify(limit)}`);
  }
  if (b.reason !== undefined && (typeof b.reason !== 'string' || b.reason === '')) throw new ValidationError('bulk reason must be a non-empty string');
  return { after, limit, reason: b.reason === undefined ? undefined : assertStorableText(b.reason as string, 'reason') };
}
