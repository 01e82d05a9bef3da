import type { DeleteTasksFilter, PurgeInput, PurgeResult } from '@taskmill/contracts';
import { statusFilter } from './queries.js';
import { jsonList, type Param, type Sql } from './sql.js';

/*
 * Deleting tasks with their audit rows (events, then attempts, then the tasks), so audit rows
 * never outlive their task (SPEC A16). No cascades: a parent's children stay unless they match.
 */

function deleteIds(sql: Sql, ids: number[]): { tasks: number; events: number; attempts: number } {
  if (ids.length === 0) return { tasks: 0, events: 0, attempts: 0 };
  const list = jsonList(ids);
  const events = sql.run('DELETE FROM taskmill_task_events WHERE task_id IN (SELECT value FROM json_each(?))', list).changes;
  const attempts = sql.run('DELETE FROM taskmill_task_attempts WHERE task_id IN (SELECT value FROM json_each(?))', list).changes;
  const tasks = sql.run('DELETE FROM taskmill_tasks WHERE id IN (SELECT value FROM json_each(?))', list).changes;
  return { tasks, events, attempts };
}

/** Delete the matching tasks (all when no filter) with their events and attempts (caller's transaction). */
export function deleteTasks(sql: Sql, filter: DeleteTasksFilter = {}): number {
  const where: string[] = [];
  const params: Param[] = [];
  const status = statusFilter(filter.status);
  if (status) {
    where.push('status = ?');
    params.push(status);
  }
  for (const key of ['tag', 'name'] as const) {
    const value = filter[key];
    if (typeof value === 'string' && value !== '') {
      where.push(`${key} = ?`);
      params.push(value);
    }
  }
  const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const ids = sql.all(`SELECT id FROM taskmill_tasks ${clause}`, ...params).map((row) => Number(row.id));
  return deleteIds(sql, ids).tasks;
}

/** One retention batch: expired tasks in the given statuses, oldest first (caller's transaction). */
export function purgeExpiredTasks(sql: Sql, input: PurgeInput): PurgeResult {
  if (input.statuses.length === 0 || input.limit <= 0) {
    return { tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0, has_more: false };
  }
  const ids = sql
    .all(
      `SELECT id FROM taskmill_tasks
       WHERE status IN (SELECT value FROM json_each(?)) AND COALESCE(last_active_time, created_at) < ?
       ORDER BY COALESCE(last_active_time, created_at), id
       LIMIT ?`,
      jsonList(input.statuses.map((status) => statusFilter(status)!)),
      input.before,
      input.limit,
    )
    .map((row) => Number(row.id));
  const counts = deleteIds(sql, ids);
  return {
    tasks_deleted: counts.tasks,
    events_deleted: counts.events,
    attempts_deleted: counts.attempts,
    has_more: ids.length === input.limit,
  };
}
