import {
  decodeAttempt,
  decodeEvent,
  decodeTask,
  isTaskStatus,
  isTaskType,
  makePage,
  ValidationError,
  type AttemptQuery,
  type EventQuery,
  type Page,
  type PageOptions,
  type RawRow,
  type TagStat,
  type Task,
  type TaskAttempt,
  type TaskEvent,
  type TaskQuery,
  type TaskStatus,
} from '@taskmill/contracts';
import { isTaskId, jsonList, type Param, type Sql } from './sql.js';

/*
 * The read side (SPEC B10): paged task, event and attempt queries. Filters become bound
 * parameters; only fixed column names and ASC/DESC are ever spliced into the SQL text.
 */

/** WHERE clauses with their parameters. */
class Filter {
  readonly clauses: string[] = [];
  readonly params: Param[] = [];

  add(clause: string, ...params: Param[]): void {
    this.clauses.push(clause);
    this.params.push(...params);
  }

  /** A text filter applies when it is a non-empty string (odd values are ignored, SPEC A14). */
  text(column: string, value: unknown): void {
    if (typeof value === 'string' && value !== '') this.add(`${column} = ?`, value);
  }

  /** An id filter: absent when null/undefined, matches nothing when not a valid id. */
  id(column: string, value: unknown): void {
    if (value === undefined || value === null) return;
    if (isTaskId(value)) this.add(`${column} = ?`, value);
    else this.add('0');
  }

  /** A numeric equality filter (0 included). */
  number(column: string, value: unknown): void {
    if (typeof value === 'number' && Number.isFinite(value)) this.add(`${column} = ?`, value);
  }

  /** An inclusive time bound; falsy values are ignored (SPEC B10). */
  bound(column: string, op: '>=' | '<=', value: unknown): void {
    if (typeof value === 'number' && Number.isFinite(value) && value !== 0) this.add(`${column} ${op} ?`, value);
  }

  get where(): string {
    return this.clauses.length ? `WHERE ${this.clauses.join(' AND ')}` : '';
  }
}

/** Validate and normalise paging options. */
function paging(options: PageOptions): { limit: number | undefined; offset: number; dir: 'ASC' | 'DESC' } {
  const { limit, offset } = options;
  if (limit !== undefined && limit !== null && !(Number.isSafeInteger(limit) && limit > 0)) {
    throw new ValidationError('limit must be a positive integer');
  }
  if (offset !== undefined && offset !== null && !(Number.isSafeInteger(offset) && offset >= 0)) {
    throw new ValidationError('offset must be a non-negative integer');
  }
  const dir = typeof options.order === 'string' && options.order.toLowerCase() === 'desc' ? 'DESC' : 'ASC';
  return { limit: limit ?? undefined, offset: offset ?? 0, dir };
}

/** Run a count + page pair over one table and filter, in one read transaction. */
function page<T>(
  sql: Sql,
  from: string,
  filter: Filter,
  order: string[],
  options: PageOptions,
  decode: (row: RawRow) => T,
): Page<T> {
  const { limit, offset, dir } = paging(options);
  const orderBy = order.map((column) => `${column} ${dir}`).join(', ');
  const slice = limit === undefined ? '' : ' LIMIT ? OFFSET ?';
  const sliceParams: Param[] = limit === undefined ? [] : [limit, offset];
  return sql.db.transaction(() => {
    const total = Number(sql.get(`SELECT COUNT(*) AS n FROM ${from} ${filter.where}`, ...filter.params)!.n);
    const rows = sql.all(`SELECT * FROM ${from} ${filter.where} ORDER BY ${orderBy}${slice}`, ...filter.params, ...sliceParams);
    return makePage(rows.map(decode), total, limit, offset);
  })();
}

function emptyPage<T>(options: PageOptions): Page<T> {
  const { limit, offset } = paging(options);
  return makePage<T>([], 0, limit, offset);
}

/** One task or null. */
export function getTask(sql: Sql, taskId: unknown): Task | null {
  if (!isTaskId(taskId)) return null;
  const row = sql.get('SELECT * FROM taskmill_tasks WHERE id = ?', taskId);
  return row ? decodeTask(row) : null;
}

/** Validate a status filter value (absent when null/undefined/''). */
export function statusFilter(status: unknown): TaskStatus | undefined {
  if (status === undefined || status === null || status === '') return undefined;
  if (!isTaskStatus(status)) throw new ValidationError('Invalid status value');
  return status;
}

/** Paged tasks ordered by `created_at, id`. */
export function queryTasks(sql: Sql, query: TaskQuery = {}): Page<Task> {
  const filter = new Filter();
  const status = statusFilter(query.status);
  if (status) filter.add('status = ?', status);
  if (query.type !== undefined && query.type !== null && (query.type as unknown) !== '') {
    if (!isTaskType(query.type)) throw new ValidationError('Invalid task type');
    filter.add('type = ?', query.type);
  }
  filter.text('tag', query.tag);
  filter.text('name', query.name);
  filter.text('worker_id', query.worker_id);
  filter.id('parent_id', query.parent_id);
  filter.id('root_id', query.root_id);
  if (query.workflow_root_id !== undefined && query.workflow_root_id !== null) {
    if (isTaskId(query.workflow_root_id)) filter.add('(id = ? OR root_id = ?)', query.workflow_root_id, query.workflow_root_id);
    else filter.add('0');
  }
  if (typeof query.suspend_reason === 'string' && query.suspend_reason !== '') {
    filter.add(`status = 'suspended' AND suspend_reason = ?`, query.suspend_reason);
  }
  return page(sql, 'taskmill_tasks', filter, ['created_at', 'id'], query, decodeTask);
}

/** Counts grouped by tag, name, status. */
export function getTaskStatsByTag(sql: Sql, tag?: string, status?: TaskStatus): TagStat[] {
  const filter = new Filter();
  filter.text('tag', tag);
  const checked = statusFilter(status);
  if (checked) filter.add('status = ?', checked);
  return sql
    .all(
      `SELECT tag, name, status, COUNT(*) AS count FROM taskmill_tasks ${filter.where}
       GROUP BY tag, name, status ORDER BY tag, name, status`,
      ...filter.params,
    )
    .map((row) => ({
      tag: row.tag === null ? null : String(row.tag),
      name: String(row.name),
      status: row.status as TaskStatus,
      count: Number(row.count),
    }));
}

function eventFilter(query: EventQuery): Filter {
  const filter = new Filter();
  filter.text('event_type', query.event_type);
  if (Array.isArray(query.event_types) && query.event_types.length > 0) {
    filter.add('event_type IN (SELECT value FROM json_each(?))', jsonList(query.event_types.map(String)));
  }
  filter.text('worker_id', query.worker_id);
  filter.id('parent_id', query.parent_id);
  filter.number('attempt', query.attempt);
  filter.number('stage', query.stage);
  filter.bound('event_time', '>=', query.started_after);
  filter.bound('event_time', '<=', query.started_before);
  return filter;
}

/** Events of one task, ordered by `event_time, id`. */
export function queryTaskEvents(sql: Sql, taskId: unknown, query: EventQuery = {}): Page<TaskEvent> {
  if (!isTaskId(taskId)) return emptyPage(query);
  const filter = eventFilter(query);
  filter.add('task_id = ?', taskId);
  return page(sql, 'taskmill_task_events', filter, ['event_time', 'id'], query, decodeEvent);
}

/** Events of a workflow (`root_id = root`), ordered by `event_time, id`. */
export function queryWorkflowEvents(sql: Sql, rootId: unknown, query: EventQuery = {}): Page<TaskEvent> {
  if (!isTaskId(rootId)) return emptyPage(query);
  const filter = eventFilter(query);
  filter.add('root_id = ?', rootId);
  return page(sql, 'taskmill_task_events', filter, ['event_time', 'id'], query, decodeEvent);
}

function attemptFilter(query: AttemptQuery): Filter {
  const filter = new Filter();
  filter.text('worker_id', query.worker_id);
  filter.text('outcome', query.outcome);
  filter.bound('started_at', '>=', query.started_after);
  filter.bound('started_at', '<=', query.started_before);
  filter.bound('ended_at', '>=', query.ended_after);
  filter.bound('ended_at', '<=', query.ended_before);
  if (query.open_only === true) filter.add('ended_at IS NULL');
  return filter;
}

/** Attempts of one task, ordered by `attempt, id`. */
export function queryTaskAttempts(sql: Sql, taskId: unknown, query: AttemptQuery = {}): Page<TaskAttempt> {
  if (!isTaskId(taskId)) return emptyPage(query);
  const filter = attemptFilter(query);
  filter.add('task_id = ?', taskId);
  return page(sql, 'taskmill_task_attempts', filter, ['attempt', 'id'], query, decodeAttempt);
}

/** Attempts of every task of a workflow (`id = root OR root_id = root`), ordered by `attempt, id`. */
export function queryWorkflowAttempts(sql: Sql, rootId: unknown, query: AttemptQuery = {}): Page<TaskAttempt> {
  if (!isTaskId(rootId)) return emptyPage(query);
  const filter = attemptFilter(query);
  filter.add('task_id IN (SELECT id FROM taskmill_tasks WHERE id = ? OR root_id = ?)', rootId, rootId);
  return page(sql, 'taskmill_task_attempts', filter, ['attempt', 'id'], query, decodeAttempt);
}
