import type { TagStat, TaskStatus } from '@taskmill/contracts';
import type { Condition, PagedTable, Paging, RawRow } from '@taskmill/store-kit';
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
  const from = db.t[table];
  const filter = where(db, conditions);
  const scoped = paging.after ? where(db, [...conditions, paging.after]) : filter;
  const [rows, [count]] = await Promise.all([
    sql`SELECT * FROM ${from} WHERE ${scoped} ORDER BY ${pageOrder(db, table, paging)} ${pageSlice(db, paging)}`,
    sql`SELECT count(*)::int AS n FROM ${from} WHERE ${filter}`,
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
 * Each name's latest attempts started in `[since, now]` (queue health): per name one backward
 * range of `idx_task_attempts_name_started` stopped at its LIMIT, the task row by its primary key
 * for the due time; the names' branches in one statement.
 */
export async function selectRecentAttempts(db: Db, names: readonly string[], since: number, now: number, perName: number): Promise<RawRow[]> {
  const { sql } = db;
  const branches = names.map(
    (name) => sql`(SELECT a.name, a.started_at, a.ended_at, a.outcome,
        CASE WHEN t.attempt = a.attempt AND t.next_run_time <= a.started_at THEN t.next_run_time END AS due_at
      FROM ${db.t.attempts} a LEFT JOIN ${db.t.tasks} t ON t.id = a.task_id
      WHERE a.name = ${name} AND a.started_at >= ${since} AND a.started_at <= ${now} ORDER BY a.started_at DESC LIMIT ${perName})`,
  );
  return sql`${branches.reduce((all, branch) => sql`${all} UNION ALL ${branch}`)}`;
}
