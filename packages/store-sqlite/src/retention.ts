import type { TaskId, TaskStatus } from '@taskmill/contracts';
import type { Condition } from '@taskmill/store-kit';
import { where } from './conditions.js';
import { jsonList, type Param, type SqliteConnection } from './connection.js';

/*
 * Deleting tasks with their audit rows (events, then attempts, then the tasks), so audit rows
 * never outlive their task (docs/behaviour.md#retention). No cascades: a parent's children stay unless they match.
 */

/** Ids of tasks matching every condition, by id, at most `limit` when given. */
export async function selectTaskIds(sql: SqliteConnection, conditions: readonly Condition[], limit?: number): Promise<TaskId[]> {
  const filter = where(conditions);
  const cut = limit === undefined ? '' : ` LIMIT ${Math.floor(limit)}`;
  return sql.all(`SELECT id FROM taskmill_tasks ${filter.sql} ORDER BY id${cut}`, ...filter.params).map((row) => Number(row.id));
}

/**
 * Expired tasks in these statuses, oldest first (`COALESCE(last_active_time, created_at), id`), at
 * most `limit`. Each status is read on its own along `idx_task_status_active (status,
 * last_active_time)` — which, with the rowid every SQLite index ends with, is exactly that order —
 * one branch for tasks last active before the cutoff and one for tasks never active (none reach a
 * retention status through the store, but rows written by hand may), each stopping after `limit`
 * entries; the union is sorted and cut. With `status IN (…) AND COALESCE(…) < ?` and that ORDER BY
 * no index applies, and every batch sorted every expired row. No row lock is needed: the write
 * transaction (`BEGIN IMMEDIATE`) excludes every other writer.
 */
export async function selectExpiredTaskIds(
  sql: SqliteConnection,
  statuses: readonly TaskStatus[],
  before: number,
  limit: number,
): Promise<TaskId[]> {
  const branches: string[] = [];
  const params: Param[] = [];
  for (const status of statuses) {
    branches.push(
      `SELECT * FROM (SELECT id, last_active_time AS at FROM taskmill_tasks INDEXED BY idx_task_status_active
         WHERE status = ? AND last_active_time < ? ORDER BY last_active_time, id LIMIT ?)`,
      `SELECT * FROM (SELECT id, created_at AS at FROM taskmill_tasks INDEXED BY idx_task_status_active
         WHERE status = ? AND last_active_time IS NULL AND created_at < ? ORDER BY created_at, id LIMIT ?)`,
    );
    params.push(status, before, limit, status, before, limit);
  }
  return sql
    .all(`${branches.join(' UNION ALL ')} ORDER BY at, id LIMIT ?`, ...params, limit)
    .map((row) => Number(row.id));
}

/** The retention lock needs nothing more: the write transaction (`BEGIN IMMEDIATE`) already excludes every other writer. */
export async function tryLockRetention(): Promise<boolean> {
  return true;
}

/** Delete the tasks with their events and attempts; the counts deleted. */
export async function deleteTasksWithAudit(
  sql: SqliteConnection,
  ids: readonly TaskId[],
): Promise<{ tasks: number; events: number; attempts: number }> {
  const list = jsonList(ids);
  const events = sql.run('DELETE FROM taskmill_task_events WHERE task_id IN (SELECT value FROM json_each(?))', list).changes;
  const attempts = sql.run('DELETE FROM taskmill_task_attempts WHERE task_id IN (SELECT value FROM json_each(?))', list).changes;
  sql.run('DELETE FROM taskmill_task_signals WHERE task_id IN (SELECT value FROM json_each(?))', list);
  const tasks = sql.run('DELETE FROM taskmill_tasks WHERE id IN (SELECT value FROM json_each(?))', list).changes;
  return { tasks, events, attempts };
}
