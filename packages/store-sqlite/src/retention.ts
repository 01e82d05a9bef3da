import type { TaskId, TaskStatus } from '@taskmill/contracts';
import type { Condition } from '@taskmill/contracts/store-kit';
import { where } from './conditions.js';
import { jsonList, type SqliteConnection } from './connection.js';

/*
 * Deleting tasks with their audit rows (events, then attempts, then the tasks), so audit rows
 * never outlive their task (SPEC A16). No cascades: a parent's children stay unless they match.
 */

/** Ids of tasks matching every condition. */
export async function selectTaskIds(sql: SqliteConnection, conditions: readonly Condition[]): Promise<TaskId[]> {
  const filter = where(conditions);
  return sql.all(`SELECT id FROM taskmill_tasks ${filter.sql}`, ...filter.params).map((row) => Number(row.id));
}

/** Expired tasks in these statuses, oldest first, at most `limit`. */
export async function selectExpiredTaskIds(
  sql: SqliteConnection,
  statuses: readonly TaskStatus[],
  before: number,
  limit: number,
): Promise<TaskId[]> {
  return sql
    .all(
      `SELECT id FROM taskmill_tasks
       WHERE status IN (SELECT value FROM json_each(?)) AND COALESCE(last_active_time, created_at) < ?
       ORDER BY COALESCE(last_active_time, created_at), id
       LIMIT ?`,
      jsonList(statuses),
      before,
      limit,
    )
    .map((row) => Number(row.id));
}

/** Delete the tasks with their events and attempts; the counts deleted. */
export async function deleteTasksWithAudit(
  sql: SqliteConnection,
  ids: readonly TaskId[],
): Promise<{ tasks: number; events: number; attempts: number }> {
  const list = jsonList(ids);
  const events = sql.run('DELETE FROM taskmill_task_events WHERE task_id IN (SELECT value FROM json_each(?))', list).changes;
  const attempts = sql.run('DELETE FROM taskmill_task_attempts WHERE task_id IN (SELECT value FROM json_each(?))', list).changes;
  const tasks = sql.run('DELETE FROM taskmill_tasks WHERE id IN (SELECT value FROM json_each(?))', list).changes;
  return { tasks, events, attempts };
}
