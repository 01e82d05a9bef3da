import type { TagStat, TaskStatus } from '@taskmill/contracts';
import {
  attemptFiguresSql,
  minuteFiguresSql,
  TABLES,
  type AttemptFiguresQuery,
  type HealthMinuteRow,
  type MinuteFiguresQuery, type Condition, type PagedTable, type Paging, type RawRow } from '@taskmill/store-kit';
import { pageSlice, where } from './conditions.js';
import type { Param, SqliteConnection } from './connection.js';

/*
 * The read side (docs/behaviour.md#queries). A paged read's count and rows run in the one read transaction of
 * `read()`, so they come from the same snapshot.
 */

/** One page of rows matching every condition, and the total count. */
export async function selectPage(
  sql: SqliteConnection,
  table: PagedTable,
  conditions: readonly Condition[],
  paging: Paging,
): Promise<{ rows: RawRow[]; total: number }> {
  const from = TABLES[table];
  const filter = where(conditions);
  const scoped = paging.after ? where([...conditions, paging.after]) : filter;
  const slice = pageSlice(table, paging);
  const total = Number(sql.get(`SELECT COUNT(*) AS n FROM ${from} ${filter.sql}`, ...filter.params)!.n);
  const rows = sql.all(`SELECT * FROM ${from} ${scoped.sql} ${slice.sql}`, ...scoped.params, ...slice.params);
  return { rows, total };
}

/** Counts grouped by tag, name, status (NULL tags first). */
export async function selectTaskStats(sql: SqliteConnection, conditions: readonly Condition[]): Promise<TagStat[]> {
  const filter = where(conditions);
  return sql
    .all(
      `SELECT tag, name, status, COUNT(*) AS count FROM ${TABLES.tasks} ${filter.sql}
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

/** Due claimable tasks per name (queue health, docs/behaviour.md#queue-health), walking the partial claim-key index. */
export async function selectDueByName(sql: SqliteConnection, now: number): Promise<RawRow[]> {
  return sql.all(
    `SELECT name, COUNT(*) AS due, MIN(next_run_time) AS oldest_due_at FROM ${TABLES.tasks}
     WHERE status IN ('pending', 'failed', 'timeout') AND next_run_time <= ? GROUP BY name`,
    now,
  );
}

/** Queue health's attempt figures: the kit's attemptFiguresSql, its four GROUP BYs in one statement. */
export async function selectAttemptFigures(sql: SqliteConnection, q: AttemptFiguresQuery): Promise<RawRow[]> {
  const params: Param[] = [];
  const text = attemptFiguresSql(TABLES.attempts, q, {
    param: (value) => (params.push(value), '?'),
    div: (a, b) => `CAST((${a}) / (${b}) AS INTEGER)`,
  });
  return sql.all(text, ...params);
}

const MINUTE_DIALECT = (params: Param[]) => ({
  param: (value: string | number) => (params.push(value), '?'),
  div: (a: string, b: string) => `CAST((${a}) / (${b}) AS INTEGER)`,
});

/** Queue health's minute rows: the kit's minuteFiguresSql. */
export async function selectMinuteFigures(sql: SqliteConnection, q: MinuteFiguresQuery): Promise<RawRow[]> {
  const params: Param[] = [];
  return sql.all(minuteFiguresSql(TABLES.attempts, q, MINUTE_DIALECT(params)), ...params);
}

/** Rows of the rollup with `from <= minute < to`, through its primary key. */
export async function selectHealthMinutes(sql: SqliteConnection, from: number, to: number): Promise<RawRow[]> {
  return sql.all(`SELECT minute, name, kind, k, n, c, f FROM ${TABLES.healthMinutes} WHERE minute >= ? AND minute < ?`, from, to);
}

/** Prune the rollup before `before`, then insert its new rows, a key already there kept (`INSERT OR IGNORE`). */
export async function insertHealthMinutes(sql: SqliteConnection, rows: readonly HealthMinuteRow[], before: number): Promise<void> {
  sql.write(`DELETE FROM ${TABLES.healthMinutes} WHERE minute < ?`, [before]);
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    const params: Param[] = chunk.flatMap((r) => [r.minute, r.name, r.kind, r.k, r.n, r.c, r.f]);
    sql.write(`INSERT OR IGNORE INTO ${TABLES.healthMinutes} (minute, name, kind, k, n, c, f) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`, params);
  }
}
