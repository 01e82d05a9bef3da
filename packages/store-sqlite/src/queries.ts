import type { TagStat, TaskStatus } from '@taskmill/contracts';
import { TABLES, type Condition, type PagedTable, type Paging, type RawRow } from '@taskmill/store-kit';
import { pageSlice, where } from './conditions.js';
import type { SqliteConnection } from './connection.js';

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

/**
 * Each name's latest attempts started in `[since, now]` (queue health): per name one backward
 * range of `idx_task_attempts_name_started` stopped at its LIMIT, the task row by its primary key
 * for the due time; the names' branches in one statement.
 */
export async function selectRecentAttempts(sql: SqliteConnection, names: readonly string[], since: number, now: number, perName: number): Promise<RawRow[]> {
  const branch = `SELECT * FROM (SELECT a.name, a.started_at, a.ended_at, a.outcome,
      CASE WHEN t.attempt = a.attempt AND t.next_run_time <= a.started_at THEN t.next_run_time END AS due_at
    FROM ${TABLES.attempts} a LEFT JOIN ${TABLES.tasks} t ON t.id = a.task_id
    WHERE a.name = ? AND a.started_at >= ? AND a.started_at <= ? ORDER BY a.started_at DESC LIMIT ?)`;
  return sql.all(names.map(() => branch).join(' UNION ALL '), ...names.flatMap((name) => [name, since, now, perName]));
}
