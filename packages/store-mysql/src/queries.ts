import type { TagStat, TaskStatus } from '@taskmill/contracts';
import {
  attemptFiguresSql,
  minuteFiguresSql,
  TABLES,
  type AttemptFiguresQuery,
  type HealthMinuteRow,
  type MinuteFiguresQuery, type Condition, type PagedTable, type Paging, type RawRow } from '@taskmill/store-kit';
import { pageOrder, pageSlice, where } from './conditions.js';
import { exec, rows, type Conn } from './transaction.js';

/*
 * The read side (docs/behaviour.md#queries): paged task, event and attempt queries and tag statistics. The kit
 * validates the filters and paging; these are the statements.
 */

const PAGED: Record<PagedTable, string> = { tasks: TABLES.tasks, events: TABLES.events, attempts: TABLES.attempts };

/** One page of rows of `table` matching every condition, and the total count. */
export async function selectPage(
  conn: Conn,
  table: PagedTable,
  conditions: readonly Condition[],
  paging: Paging,
): Promise<{ rows: RawRow[]; total: number }> {
  const filter = where(conditions);
  const [count] = await rows(conn, `SELECT COUNT(*) AS total FROM ${PAGED[table]}${filter.sql}`, filter.params);
  const scoped = paging.after ? where([...conditions, paging.after]) : filter;
  const slice = pageSlice(paging);
  const found = await rows(conn, `SELECT * FROM ${PAGED[table]}${scoped.sql}${pageOrder(table, paging)}${slice.sql}`, [
    ...scoped.params,
    ...slice.params,
  ]);
  return { rows: found, total: Number(count?.total ?? 0) };
}

/** Counts grouped and ordered by tag, name, status (NULL tags sort first in MySQL). */
export async function selectTaskStats(conn: Conn, conditions: readonly Condition[]): Promise<TagStat[]> {
  const filter = where(conditions);
  const found = await rows(
    conn,
    `SELECT tag, name, status, COUNT(*) AS count FROM ${TABLES.tasks}${filter.sql} GROUP BY tag, name, status ORDER BY tag, name, status`,
    filter.params,
  );
  return found.map((r) => ({
    tag: r.tag === null || r.tag === undefined ? null : String(r.tag),
    name: String(r.name),
    status: String(r.status) as TaskStatus,
    count: Number(r.count),
  }));
}

/** Due claimable tasks per name (queue health, docs/behaviour.md#queue-health), through `idx_task_claim_name (name, status, next_run_time)`. */
export function selectDueByName(conn: Conn, now: number): Promise<RawRow[]> {
  return rows(
    conn,
    `SELECT name, COUNT(*) AS due, MIN(next_run_time) AS oldest_due_at FROM ${TABLES.tasks}
     WHERE status IN ('pending', 'failed', 'timeout') AND next_run_time <= ? GROUP BY name`,
    [now],
  );
}

/** Queue health's attempt figures: the kit's attemptFiguresSql, its four GROUP BYs in one statement. */
export function selectAttemptFigures(conn: Conn, q: AttemptFiguresQuery): Promise<RawRow[]> {
  const params: unknown[] = [];
  const text = attemptFiguresSql(TABLES.attempts, q, {
    param: (value) => (params.push(value), '?'),
    div: (a, b) => `(${a}) DIV (${b})`,
  });
  return rows(conn, text, params);
}

/** Queue health's minute rows: the kit's minuteFiguresSql. */
export function selectMinuteFigures(conn: Conn, q: MinuteFiguresQuery): Promise<RawRow[]> {
  const params: unknown[] = [];
  const text = minuteFiguresSql(TABLES.attempts, q, {
    param: (value) => (params.push(value), '?'),
    div: (a, b) => `(${a}) DIV (${b})`,
  });
  return rows(conn, text, params);
}

/** Rows of the rollup with `from <= minute < to`, through its primary key; the name's bytes read back as text. */
export function selectHealthMinutes(conn: Conn, from: number, to: number): Promise<RawRow[]> {
  return rows(
    conn,
    `SELECT minute, CONVERT(name USING utf8mb4) AS name, kind, k, n, c, f FROM ${TABLES.healthMinutes} WHERE minute >= ? AND minute < ?`,
    [from, to],
  );
}

/** Prune the rollup before `before`, then insert its new rows, a key already there kept (`INSERT IGNORE`). */
export async function insertHealthMinutes(conn: Conn, list: readonly HealthMinuteRow[], before: number): Promise<void> {
  await exec(conn, `DELETE FROM ${TABLES.healthMinutes} WHERE minute < ?`, [before]);
  for (let i = 0; i < list.length; i += 1000) {
    const chunk = list.slice(i, i + 1000);
    const params = chunk.flatMap((r) => [r.minute, r.name, r.kind, r.k, r.n, r.c, r.f]);
    await exec(conn, `INSERT IGNORE INTO ${TABLES.healthMinutes} (minute, name, kind, k, n, c, f) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`, params);
  }
}
