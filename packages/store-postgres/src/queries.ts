import type { TagStat, TaskStatus } from '@taskmill/contracts';
import {
  attemptFiguresSql,
  minuteFiguresSql,
  type AttemptFiguresQuery,
  type FiguresDialect,
  type HealthMinuteRow,
  type MinuteFiguresQuery, type Condition, type PagedTable, type Paging, type RawRow } from '@taskmill/store-kit';
import type { Fragment } from './connection.js';
import { pageOrder, pageSlice, where } from './conditions.js';
import type { Db } from './transaction.js';

/*
 * The read side (docs/behaviour.md#queries). Text ordering uses COLLATE "C" so results sort byte-wise, as on the
 * other stores, whatever the database's collation.
 */

/** One page of rows of `table` matching the conditions, and the total count (two statements side by side). */
export async function selectPage(
  db: Db,
  table: PagedTable,
  conditions: readonly Condition[],
  paging: Paging,
): Promise<{ rows: RawRow[]; total: number }> {
  const { sql } = db;
  const workflow = table === 'events' ? conditions.find(isWorkflowScope) : undefined;
  if (workflow) return selectWorkflowEventPage(db, Number(workflow.value), conditions.filter((c) => c !== workflow), paging);
  const from = db.t[table];
  const filter = where(db, conditions);
  const scoped = paging.after ? where(db, [...conditions, paging.after]) : filter;
  const [rows, [count]] = await Promise.all([
    sql`SELECT * FROM ${from} WHERE ${scoped} ORDER BY ${pageOrder(db, table, paging)} ${pageSlice(db, paging)}`,
    sql`SELECT count(*)::int AS n FROM ${from} WHERE ${filter}`,
  ]);
  return { rows, total: Number(count.n) };
}

/** The events of a workflow: `root_id = root` (queryWorkflowEvents' scope). */
function isWorkflowScope(c: Condition): c is Condition & { kind: 'eq'; value: number } {
  return c.kind === 'eq' && c.column === 'root_id';
}

/**
 * A page of a workflow's events (`root_id = root`), read as two ranges: its children's through the
 * partial idx_task_events_root_time (`task_id <> root_id`, the predicate repeated so that the
 * planner matches it), the root's own through idx_task_events_task_time. Each range is read in
 * page order up to the page's end, then merged: a page reads about as many index entries as it did
 * through one index of every event by root (a plain UNION ALL under one ORDER BY … LIMIT was planned
 * as a bitmap scan of the whole workflow and a sort).
 */
async function selectWorkflowEventPage(
  db: Db,
  root: number,
  conditions: readonly Condition[],
  paging: Paging,
): Promise<{ rows: RawRow[]; total: number }> {
  const { sql, t } = db;
  const filter = where(db, conditions);
  const scoped = paging.after ? where(db, [...conditions, paging.after]) : filter;
  const order = pageOrder(db, 'events', paging);
  const upTo = paging.limit === null ? sql`` : sql`LIMIT ${paging.limit + paging.offset}`;
  const [rows, [count]] = await Promise.all([
    sql`SELECT * FROM (
        (SELECT * FROM ${t.events} WHERE root_id = ${root} AND task_id <> root_id AND ${scoped} ORDER BY ${order} ${upTo})
        UNION ALL
        (SELECT * FROM ${t.events} WHERE task_id = ${root} AND root_id = ${root} AND ${scoped} ORDER BY ${order} ${upTo})
      ) AS workflow_events ORDER BY ${order} ${pageSlice(db, paging)}`,
    sql`SELECT (SELECT count(*) FROM ${t.events} WHERE root_id = ${root} AND task_id <> root_id AND ${filter})
      + (SELECT count(*) FROM ${t.events} WHERE task_id = ${root} AND root_id = ${root} AND ${filter}) AS n`,
  ]);
  return { rows, total: Number(count.n) };
}

/** Counts grouped by tag, name, status, ordered the same (NULL tags first, as SQLite sorts them). */
export async function selectTaskStats(db: Db, conditions: readonly Condition[]): Promise<TagStat[]> {
  const rows = await db.sql`
    SELECT tag, name, status, count(*)::int AS count FROM ${db.t.tasks}
    WHERE ${where(db, conditions)}
    GROUP BY tag, name, status
    ORDER BY tag COLLATE "C" ASC NULLS FIRST, name COLLATE "C", status COLLATE "C"`;
  return rows.map((r) => ({ tag: r.tag ?? null, name: String(r.name), status: r.status as TaskStatus, count: Number(r.count) }));
}

/** Due claimable tasks per name (queue health, docs/behaviour.md#queue-health), through the partial `idx_task_claim_name`. */
export async function selectDueByName(db: Db, now: number): Promise<RawRow[]> {
  return db.sql`
    SELECT name, count(*)::int AS due, min(next_run_time) AS oldest_due_at FROM ${db.t.tasks}
    WHERE status IN ('pending', 'failed', 'timeout') AND next_run_time <= ${now} GROUP BY name`;
}

/**
 * Queue health's attempt figures (the kit's attemptFiguresSql, its four GROUP BYs in one
 * statement), its text spliced with the schema's attempts table and the bound values.
 */
export async function selectAttemptFigures(db: Db, q: AttemptFiguresQuery): Promise<RawRow[]> {
  return spliced(db, (d) => attemptFiguresSql('\u0002', q, d));
}

/** Queue health's minute rows: the kit's minuteFiguresSql, spliced as selectAttemptFigures is. */
export async function selectMinuteFigures(db: Db, q: MinuteFiguresQuery): Promise<RawRow[]> {
  return spliced(db, (d) => minuteFiguresSql('\u0002', q, d));
}

/** The kit's statement text with the schema's attempts table (marked \u0002) and the bound values. */
async function spliced(db: Db, text: (d: FiguresDialect) => string): Promise<RawRow[]> {
  const { sql } = db;
  const values: (string | number)[] = [];
  const parts = text({
    param: (value) => `\u0001${values.push(value) - 1}\u0001${typeof value === 'number' ? '::int8' : ''}`,
    div: (a, b) => `(${a}) / (${b})`,
  }).split(/(\u0001\d+\u0001|\u0002)/);
  const statement = parts.reduce<Fragment>((all, part) => {
    if (part === '\u0002') return sql`${all}${db.t.attempts}`;
    const param = /^\u0001(\d+)\u0001$/.exec(part);
    if (param) return sql`${all}${values[Number(param[1])]}`;
    return part === '' ? all : sql`${all}${sql.unsafe(part)}`;
  }, sql``);
  return sql`${statement}`;
}

/** Rows of the rollup with `from <= minute < to`, through its primary key. */
export async function selectHealthMinutes(db: Db, from: number, to: number): Promise<RawRow[]> {
  return db.sql`SELECT minute, name, kind, k, n, c, f FROM ${db.t.healthMinutes} WHERE minute >= ${from} AND minute < ${to}`;
}

/** Prune the rollup before `before`, then insert its new rows, a key already there kept (`ON CONFLICT DO NOTHING`). */
export async function insertHealthMinutes(db: Db, rows: readonly HealthMinuteRow[], before: number): Promise<void> {
  const { sql } = db;
  await sql`DELETE FROM ${db.t.healthMinutes} WHERE minute < ${before}`;
  for (let i = 0; i < rows.length; i += 1000) {
    const chunk = rows.slice(i, i + 1000).map((r) => ({ ...r }));
    await sql`INSERT INTO ${db.t.healthMinutes} ${sql(chunk, 'minute', 'name', 'kind', 'k', 'n', 'c', 'f')} ON CONFLICT DO NOTHING`;
  }
}
