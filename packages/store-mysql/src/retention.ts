import type { DeleteTasksFilter, PurgeInput, PurgeResult } from '@taskmill/contracts';
import { isTaskStatus, ValidationError } from '@taskmill/contracts';
import { A, chunks, E, exec, rows, T } from './queries.js';
import type { Conn } from './transaction.js';

/*
 * Deleting tasks with their audit rows (SPEC B9, A16, A17). Task-centric: a task goes only if it
 * qualifies itself; no cascade. Its events and attempts go in the same transaction, so audit
 * rows never outlive their task. The purge locks its batch with FOR UPDATE SKIP LOCKED, so
 * concurrent sweepers split the work instead of waiting on (or double-counting) each other.
 */

async function deleteByIds(conn: Conn, ids: number[]): Promise<PurgeResult> {
  const result: PurgeResult = { tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0, has_more: false };
  for (const part of chunks(ids, 500)) {
    result.events_deleted += (await exec(conn, `DELETE FROM ${E} WHERE task_id IN (?)`, [part])).affectedRows;
    result.attempts_deleted += (await exec(conn, `DELETE FROM ${A} WHERE task_id IN (?)`, [part])).affectedRows;
    result.tasks_deleted += (await exec(conn, `DELETE FROM ${T} WHERE id IN (?)`, [part])).affectedRows;
  }
  return result;
}

/** `purgeExpiredTasks`: one bounded batch, oldest first (caller's transaction). */
export async function purgeExpiredTasks(conn: Conn, input: PurgeInput): Promise<PurgeResult> {
  const statuses = (input.statuses ?? []).filter(isTaskStatus);
  const limit = Math.floor(input.limit);
  if (statuses.length === 0 || !(limit > 0)) return { tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0, has_more: false };
  const found = await rows(
    conn,
    `SELECT id FROM ${T}
      WHERE status IN (?) AND COALESCE(last_active_time, created_at) < ?
      ORDER BY COALESCE(last_active_time, created_at), id
      LIMIT ? FOR UPDATE SKIP LOCKED`,
    [statuses, input.before, limit],
  );
  const ids = found.map((r) => Number(r.id));
  const result = await deleteByIds(conn, ids);
  return { ...result, has_more: ids.length === limit };
}

/** `deleteTasks`: every task matching the filter with its events and attempts (caller's transaction). */
export async function deleteTasks(conn: Conn, filter: DeleteTasksFilter = {}): Promise<number> {
  if (filter.status !== undefined && filter.status !== null && !isTaskStatus(filter.status)) {
    throw new ValidationError('Invalid status value');
  }
  const clauses: string[] = [];
  const params: unknown[] = [];
  for (const key of ['tag', 'status', 'name'] as const) {
    const value = filter[key];
    if (value !== undefined && value !== null) {
      clauses.push(`${key} = ?`);
      params.push(value);
    }
  }
  const found = await rows(
    conn,
    `SELECT id FROM ${T}${clauses.length ? ` WHERE ${clauses.join(' AND ')}` : ''} ORDER BY id FOR UPDATE`,
    params,
  );
  const result = await deleteByIds(
    conn,
    found.map((r) => Number(r.id)),
  );
  return result.tasks_deleted;
}
