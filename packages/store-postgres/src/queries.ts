import {
  type AttemptQuery,
  decodeAttempt,
  decodeEvent,
  decodeTask,
  type DeleteTasksFilter,
  type EventQuery,
  isTaskStatus,
  isTaskType,
  makePage,
  type Page,
  type PageOptions,
  type TagStat,
  type Task,
  type TaskAttempt,
  type TaskEvent,
  type TaskId,
  type TaskQuery,
  type TaskStatus,
  ValidationError,
} from '@taskmill/contracts';
import type postgres from '#postgres';
import { isValidId, type StoreContext } from './context.js';
import { run } from './transaction.js';

/*
 * The read side (SPEC B10) and bulk delete. Every filter is a bound parameter; text ordering
 * uses COLLATE "C" so results sort byte-wise, as on the other stores, whatever the database's
 * collation.
 */

type Fragment = postgres.Fragment;

function page(sql: postgres.Sql, options: PageOptions): { limit?: number; offset?: number; clause: Fragment; desc: boolean } {
  const { limit, offset } = options ?? {};
  if (limit !== undefined && limit !== null && !(Number.isSafeInteger(limit) && limit > 0)) {
    throw new ValidationError('limit must be a positive integer');
  }
  if (offset !== undefined && offset !== null && !(Number.isSafeInteger(offset) && offset >= 0)) {
    throw new ValidationError('offset must be a non-negative integer');
  }
  const desc = typeof options?.order === 'string' && options.order.toLowerCase() === 'desc';
  if (limit === undefined || limit === null) return { clause: sql``, desc };
  return { limit, offset: offset ?? 0, clause: sql`LIMIT ${limit} OFFSET ${offset ?? 0}`, desc };
}

function where(sql: postgres.Sql, conditions: Fragment[]): Fragment {
  return conditions.length === 0 ? sql`TRUE` : conditions.reduce((acc, c) => sql`${acc} AND ${c}`);
}

const str = (v: unknown): v is string => typeof v === 'string';
const given = (v: unknown) => v !== undefined && v !== null;

/** An id filter: a bad id matches nothing instead of reaching the database as text. */
function idEquals(sql: postgres.Sql, column: string, id: unknown): Fragment {
  return isValidId(id) ? sql`${sql(column)} = ${id}` : sql`FALSE`;
}

/** One task or null (a bad id finds nothing). */
export async function getTask(ctx: StoreContext, taskId: TaskId): Promise<Task | null> {
  if (!isValidId(taskId)) return null;
  const rows = await run('getTask', () => ctx.sql`SELECT * FROM ${ctx.t.tasks} WHERE id = ${taskId}`);
  return rows[0] ? decodeTask(rows[0]) : null;
}

function taskConditions(sql: postgres.Sql, q: TaskQuery): Fragment[] {
  const c: Fragment[] = [];
  if (given(q.status)) {
    if (!isTaskStatus(q.status)) throw new ValidationError('Invalid status value');
    c.push(sql`status = ${q.status}`);
  }
  if (given(q.type)) {
    if (!isTaskType(q.type)) throw new ValidationError('Invalid task type');
    c.push(sql`type = ${q.type}`);
  }
  if (str(q.tag)) c.push(sql`tag = ${q.tag}`);
  if (str(q.name)) c.push(sql`name = ${q.name}`);
  if (str(q.worker_id)) c.push(sql`worker_id = ${q.worker_id}`);
  if (given(q.parent_id)) c.push(idEquals(sql, 'parent_id', q.parent_id));
  if (given(q.root_id)) c.push(idEquals(sql, 'root_id', q.root_id));
  if (given(q.workflow_root_id)) {
    const id = q.workflow_root_id;
    c.push(isValidId(id) ? sql`(id = ${id} OR root_id = ${id})` : sql`FALSE`);
  }
  if (str(q.suspend_reason)) c.push(sql`status = 'suspended' AND suspend_reason = ${q.suspend_reason}`);
  return c;
}

/** Paged task query ordered by `created_at, id`. */
export async function queryTasks(ctx: StoreContext, query: TaskQuery = {}): Promise<Page<Task>> {
  const sql = ctx.sql;
  const p = page(sql, query);
  const w = where(sql, taskConditions(sql, query ?? {}));
  const dir = p.desc ? sql`DESC` : sql`ASC`;
  const [rows, [count]] = await run('queryTasks', () =>
    Promise.all([
      sql`SELECT * FROM ${ctx.t.tasks} WHERE ${w} ORDER BY created_at ${dir}, id ${dir} ${p.clause}`,
      sql`SELECT count(*)::int AS n FROM ${ctx.t.tasks} WHERE ${w}`,
    ]),
  );
  return makePage(rows.map(decodeTask), Number(count.n), p.limit, p.offset);
}

/** Counts grouped by tag, name, status (same order; NULL tags first, as SQLite sorts them). */
export async function getTaskStatsByTag(ctx: StoreContext, tag?: string, status?: TaskStatus): Promise<TagStat[]> {
  const sql = ctx.sql;
  const c: Fragment[] = [];
  if (str(tag) && tag !== '') c.push(sql`tag = ${tag}`);
  if (given(status) && (status as unknown) !== '') {
    if (!isTaskStatus(status)) throw new ValidationError('Invalid status value');
    c.push(sql`status = ${status}`);
  }
  const rows = await run('getTaskStatsByTag', () => sql`
    SELECT tag, name, status, count(*)::int AS count FROM ${ctx.t.tasks}
    WHERE ${where(sql, c)}
    GROUP BY tag, name, status
    ORDER BY tag COLLATE "C" ASC NULLS FIRST, name COLLATE "C", status COLLATE "C"`);
  return rows.map((r) => ({
    tag: r.tag ?? null,
    name: String(r.name),
    status: r.status as TaskStatus,
    count: Number(r.count),
  }));
}

/** Delete matching tasks with their events and attempts in one statement; returns the task count. */
export async function deleteTasks(ctx: StoreContext, filter: DeleteTasksFilter = {}): Promise<number> {
  const sql = ctx.sql;
  const f = filter ?? {};
  const c: Fragment[] = [];
  if (given(f.status)) {
    if (!isTaskStatus(f.status)) throw new ValidationError('Invalid status value');
    c.push(sql`status = ${f.status}`);
  }
  if (str(f.tag)) c.push(sql`tag = ${f.tag}`);
  if (str(f.name)) c.push(sql`name = ${f.name}`);
  const { t } = ctx;
  const [row] = await run('deleteTasks', () => sql`
    WITH gone AS (DELETE FROM ${t.tasks} WHERE ${where(sql, c)} RETURNING id),
    gone_events AS (DELETE FROM ${t.events} WHERE task_id IN (SELECT id FROM gone)),
    gone_attempts AS (DELETE FROM ${t.attempts} WHERE task_id IN (SELECT id FROM gone))
    SELECT count(*)::int AS n FROM gone`);
  return Number(row.n);
}

function eventConditions(sql: postgres.Sql, q: EventQuery): Fragment[] {
  const c: Fragment[] = [];
  if (str(q.event_type)) c.push(sql`event_type = ${q.event_type}`);
  if (Array.isArray(q.event_types) && q.event_types.length > 0) {
    c.push(sql`event_type = ANY(${q.event_types.map(String)}::text[])`);
  }
  if (str(q.worker_id)) c.push(sql`worker_id = ${q.worker_id}`);
  if (given(q.parent_id)) c.push(idEquals(sql, 'parent_id', q.parent_id));
  if (given(q.attempt)) c.push(Number.isSafeInteger(q.attempt) ? sql`attempt = ${q.attempt!}` : sql`FALSE`);
  if (given(q.stage)) c.push(Number.isSafeInteger(q.stage) ? sql`stage = ${q.stage!}` : sql`FALSE`);
  if (q.started_after) c.push(sql`event_time >= ${Number(q.started_after)}`);
  if (q.started_before) c.push(sql`event_time <= ${Number(q.started_before)}`);
  return c;
}

async function pagedEvents(ctx: StoreContext, scope: Fragment, query: EventQuery, op: string): Promise<Page<TaskEvent>> {
  const sql = ctx.sql;
  const p = page(sql, query);
  const w = where(sql, [scope, ...eventConditions(sql, query ?? {})]);
  const dir = p.desc ? sql`DESC` : sql`ASC`;
  const [rows, [count]] = await run(op, () =>
    Promise.all([
      sql`SELECT * FROM ${ctx.t.events} WHERE ${w} ORDER BY event_time ${dir}, id ${dir} ${p.clause}`,
      sql`SELECT count(*)::int AS n FROM ${ctx.t.events} WHERE ${w}`,
    ]),
  );
  return makePage(rows.map(decodeEvent), Number(count.n), p.limit, p.offset);
}

/** Events of one task, ordered by `event_time, id`. */
export function queryTaskEvents(ctx: StoreContext, taskId: TaskId, query: EventQuery = {}): Promise<Page<TaskEvent>> {
  return pagedEvents(ctx, idEquals(ctx.sql, 'task_id', taskId), query, 'queryTaskEvents');
}

/** Events of a workflow (`root_id = root`), ordered by `event_time, id`. */
export function queryWorkflowEvents(ctx: StoreContext, rootId: TaskId, query: EventQuery = {}): Promise<Page<TaskEvent>> {
  return pagedEvents(ctx, idEquals(ctx.sql, 'root_id', rootId), query, 'queryWorkflowEvents');
}

function attemptConditions(sql: postgres.Sql, q: AttemptQuery): Fragment[] {
  const c: Fragment[] = [];
  if (str(q.worker_id)) c.push(sql`worker_id = ${q.worker_id}`);
  if (str(q.outcome)) c.push(sql`outcome = ${q.outcome}`);
  if (q.started_after) c.push(sql`started_at >= ${Number(q.started_after)}`);
  if (q.started_before) c.push(sql`started_at <= ${Number(q.started_before)}`);
  if (q.ended_after) c.push(sql`ended_at >= ${Number(q.ended_after)}`);
  if (q.ended_before) c.push(sql`ended_at <= ${Number(q.ended_before)}`);
  if (q.open_only) c.push(sql`ended_at IS NULL`);
  return c;
}

async function pagedAttempts(ctx: StoreContext, scope: Fragment, query: AttemptQuery, op: string): Promise<Page<TaskAttempt>> {
  const sql = ctx.sql;
  const p = page(sql, query);
  const w = where(sql, [scope, ...attemptConditions(sql, query ?? {})]);
  const dir = p.desc ? sql`DESC` : sql`ASC`;
  const [rows, [count]] = await run(op, () =>
    Promise.all([
      sql`SELECT * FROM ${ctx.t.attempts} WHERE ${w} ORDER BY attempt ${dir}, id ${dir} ${p.clause}`,
      sql`SELECT count(*)::int AS n FROM ${ctx.t.attempts} WHERE ${w}`,
    ]),
  );
  return makePage(rows.map(decodeAttempt), Number(count.n), p.limit, p.offset);
}

/** Attempts of one task, ordered by `attempt, id`. */
export function queryTaskAttempts(ctx: StoreContext, taskId: TaskId, query: AttemptQuery = {}): Promise<Page<TaskAttempt>> {
  return pagedAttempts(ctx, idEquals(ctx.sql, 'task_id', taskId), query, 'queryTaskAttempts');
}

/** Attempts of every task of a workflow (`id = root OR root_id = root`), ordered by `attempt, id`. */
export function queryWorkflowAttempts(
  ctx: StoreContext,
  rootId: TaskId,
  query: AttemptQuery = {},
): Promise<Page<TaskAttempt>> {
  const sql = ctx.sql;
  const scope = isValidId(rootId)
    ? sql`task_id IN (SELECT id FROM ${ctx.t.tasks} WHERE id = ${rootId} OR root_id = ${rootId})`
    : sql`FALSE`;
  return pagedAttempts(ctx, scope, query, 'queryWorkflowAttempts');
}
