import type { TagStat, TaskStatus } from '@taskmill/contracts';
import { TABLES, type Condition, type PagedTable, type Paging, type RawRow } from '@taskmill/store-kit';
import { pageOrder, pageSlice, where } from './conditions.js';
import { rows, type Conn } from './transaction.js';

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

/**
 * Each name's latest attempts started in `[since, now]` (queue health): per name one backward
 * range of `idx_task_attempts_name_started` stopped at its LIMIT, the task row by its primary key
 * for the due time; the names' branches in one statement.
 */
export function selectRecentAttempts(conn: Conn, names: readonly string[], since: number, now: number, perName: number): Promise<RawRow[]> {
  const branch = `(SELECT a.name, a.started_at, a.ended_at, a.outcome,
      CASE WHEN t.attempt = a.attempt AND t.next_run_time <= a.started_at THEN t.next_run_time END AS due_at
    FROM ${TABLES.attempts} a LEFT JOIN ${TABLES.tasks} t ON t.id = a.task_id
    WHERE a.name = ? AND a.started_at >= ? AND a.started_at <= ? ORDER BY a.started_at DESC LIMIT ?)`;
  return rows(conn, names.map(() => branch).join(' UNION ALL '), names.flatMap((name) => [name, since, now, perName]));
}
