import type { AttemptQuery, EventQuery, Page, PageOptions, RawRow, TagStat, Task, TaskAttempt, TaskEvent, TaskQuery, TaskStatus } from '@taskmill/contracts';
import { decodeAttempt, decodeEvent, decodeTask, isTaskStatus, isTaskType, makePage, ValidationError } from '@taskmill/contracts';
import { A, E, rows, T, toId } from './queries.js';
import type { Conn } from './transaction.js';

/*
 * The read side (SPEC B10): paged task, event and attempt queries, and tag statistics. Filters
 * are always bound parameters; an id filter that is not a safe positive integer matches nothing
 * (MySQL would otherwise coerce a string like '1 OR 1=1' to 1).
 */

interface Where {
  clauses: string[];
  params: unknown[];
  /** An id filter can match nothing: skip the query. */
  empty: boolean;
}

function where(): Where {
  return { clauses: [], params: [], empty: false };
}

function eq(w: Where, column: string, value: unknown): void {
  if (value === undefined || value === null) return;
  w.clauses.push(`${column} = ?`);
  w.params.push(value);
}

function idEq(w: Where, column: string, value: unknown): void {
  if (value === undefined || value === null) return;
  const id = toId(value);
  if (id === null) {
    w.empty = true;
    return;
  }
  eq(w, column, id);
}

function bound(w: Where, column: string, op: '>=' | '<=', value: unknown): void {
  if (!value) return; // falsy bounds are ignored (SPEC B10)
  w.clauses.push(`${column} ${op} ?`);
  w.params.push(value);
}

function whereSql(w: Where): string {
  return w.clauses.length ? ` WHERE ${w.clauses.join(' AND ')}` : '';
}

function checkPage(options: PageOptions): void {
  if (options.limit !== undefined && options.limit !== null && !(Number.isSafeInteger(options.limit) && options.limit > 0)) {
    throw new ValidationError('limit must be a positive integer');
  }
  if (options.offset !== undefined && options.offset !== null && !(Number.isSafeInteger(options.offset) && options.offset >= 0)) {
    throw new ValidationError('offset must be a non-negative integer');
  }
}

async function page<V>(conn: Conn, table: string, w: Where, order: string[], options: PageOptions, decode: (row: RawRow) => V): Promise<Page<V>> {
  checkPage(options);
  const limit = options.limit ?? undefined;
  const offset = limit === undefined ? undefined : (options.offset ?? 0);
  if (w.empty) return makePage([], 0, limit, offset);
  const dir = typeof options.order === 'string' && options.order.toLowerCase() === 'desc' ? 'DESC' : 'ASC';
  const orderBy = order.map((c) => `${c} ${dir}`).join(', ');
  const [count] = await rows(conn, `SELECT COUNT(*) AS total FROM ${table}${whereSql(w)}`, w.params);
  const total = Number(count?.total ?? 0);
  const slice = limit === undefined ? '' : ' LIMIT ? OFFSET ?';
  const found = await rows(
    conn,
    `SELECT * FROM ${table}${whereSql(w)} ORDER BY ${orderBy}${slice}`,
    limit === undefined ? w.params : [...w.params, limit, offset],
  );
  return makePage(found.map(decode), total, limit, offset);
}

function checkStatus(status: unknown): void {
  if (status !== undefined && status !== null && !isTaskStatus(status)) throw new ValidationError('Invalid status value');
}

/** `queryTasks`, ordered by `created_at, id`. */
export function queryTasks(conn: Conn, query: TaskQuery = {}): Promise<Page<Task>> {
  checkStatus(query.status);
  if (query.type !== undefined && query.type !== null && !isTaskType(query.type)) throw new ValidationError('Invalid task type');
  const w = where();
  eq(w, 'tag', query.tag);
  eq(w, 'status', query.status);
  eq(w, 'name', query.name);
  eq(w, 'worker_id', query.worker_id);
  idEq(w, 'parent_id', query.parent_id);
  idEq(w, 'root_id', query.root_id);
  eq(w, 'type', query.type);
  if (query.workflow_root_id !== undefined && query.workflow_root_id !== null) {
    const root = toId(query.workflow_root_id);
    if (root === null) w.empty = true;
    else {
      w.clauses.push('(id = ? OR root_id = ?)');
      w.params.push(root, root);
    }
  }
  if (query.suspend_reason !== undefined && query.suspend_reason !== null) {
    w.clauses.push(`status = 'suspended'`);
    eq(w, 'suspend_reason', query.suspend_reason);
  }
  return page(conn, T, w, ['created_at', 'id'], query, decodeTask);
}

/** `getTaskStatsByTag`: counts grouped and ordered by tag, name, status. */
export async function getTaskStatsByTag(conn: Conn, tag?: string, status?: TaskStatus): Promise<TagStat[]> {
  checkStatus(status);
  const w = where();
  if (tag) eq(w, 'tag', tag);
  if (status) eq(w, 'status', status);
  const found = await rows(
    conn,
    `SELECT tag, name, status, COUNT(*) AS count FROM ${T}${whereSql(w)} GROUP BY tag, name, status ORDER BY tag, name, status`,
    w.params,
  );
  return found.map((r) => ({
    tag: r.tag === null || r.tag === undefined ? null : String(r.tag),
    name: String(r.name),
    status: String(r.status) as TaskStatus,
    count: Number(r.count),
  }));
}

function eventFilters(w: Where, query: EventQuery): void {
  eq(w, 'event_type', query.event_type);
  if (Array.isArray(query.event_types) && query.event_types.length > 0) {
    w.clauses.push('event_type IN (?)');
    w.params.push(query.event_types);
  }
  eq(w, 'worker_id', query.worker_id);
  idEq(w, 'parent_id', query.parent_id);
  eq(w, 'attempt', query.attempt);
  eq(w, 'stage', query.stage);
  bound(w, 'event_time', '>=', query.started_after);
  bound(w, 'event_time', '<=', query.started_before);
}

/** `queryTaskEvents`, ordered by `event_time, id`. */
export function queryTaskEvents(conn: Conn, taskId: number, query: EventQuery = {}): Promise<Page<TaskEvent>> {
  const w = where();
  idEq(w, 'task_id', taskId);
  if (toId(taskId) === null) w.empty = true;
  eventFilters(w, query);
  return page(conn, E, w, ['event_time', 'id'], query, decodeEvent);
}

/** `queryWorkflowEvents`: events whose `root_id` is the root. */
export function queryWorkflowEvents(conn: Conn, rootId: number, query: EventQuery = {}): Promise<Page<TaskEvent>> {
  const w = where();
  idEq(w, 'root_id', rootId);
  if (toId(rootId) === null) w.empty = true;
  eventFilters(w, query);
  return page(conn, E, w, ['event_time', 'id'], query, decodeEvent);
}

function attemptFilters(w: Where, query: AttemptQuery): void {
  eq(w, 'worker_id', query.worker_id);
  eq(w, 'outcome', query.outcome);
  bound(w, 'started_at', '>=', query.started_after);
  bound(w, 'started_at', '<=', query.started_before);
  bound(w, 'ended_at', '>=', query.ended_after);
  bound(w, 'ended_at', '<=', query.ended_before);
  if (query.open_only) w.clauses.push('ended_at IS NULL');
}

/** `queryTaskAttempts`, ordered by `attempt, id`. */
export function queryTaskAttempts(conn: Conn, taskId: number, query: AttemptQuery = {}): Promise<Page<TaskAttempt>> {
  const w = where();
  idEq(w, 'task_id', taskId);
  if (toId(taskId) === null) w.empty = true;
  attemptFilters(w, query);
  return page(conn, A, w, ['attempt', 'id'], query, decodeAttempt);
}

/** `queryWorkflowAttempts`: attempts of tasks with `id = root OR root_id = root`. */
export function queryWorkflowAttempts(conn: Conn, rootId: number, query: AttemptQuery = {}): Promise<Page<TaskAttempt>> {
  const w = where();
  const root = toId(rootId);
  if (root === null) w.empty = true;
  else {
    w.clauses.push(`task_id IN (SELECT id FROM ${T} WHERE id = ? OR root_id = ?)`);
    w.params.push(root, root);
  }
  attemptFilters(w, query);
  return page(conn, A, w, ['attempt', 'id'], query, decodeAttempt);
}
