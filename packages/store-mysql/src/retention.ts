import type { TaskId, TaskStatus } from '@taskmill/contracts';
import { TABLES, type Condition } from '@taskmill/contracts/store-kit';
import { where } from './conditions.js';
import { exec, rows, type Conn } from './transaction.js';

/*
 * Deleting tasks with their audit rows (SPEC B9, A16, A17). Task-centric: a task goes only if it
 * qualifies itself; no cascade. Its events and attempts go in the same transaction, so audit
 * rows never outlive their task. The purge locks its batch with FOR UPDATE SKIP LOCKED, so
 * concurrent sweepers split the work instead of waiting on (or double-counting) each other.
 */

const T = TABLES.tasks;

/** Keeps `IN (…)` lists and packets bounded. */
const DELETE_CHUNK = 500;

/** Ids of tasks matching every condition, locked. */
export async function selectTaskIds(conn: Conn, conditions: readonly Condition[]): Promise<TaskId[]> {
  const filter = where(conditions);
  const found = await rows(conn, `SELECT id FROM ${T}${filter.sql} ORDER BY id FOR UPDATE`, filter.params);
  return found.map((row) => Number(row.id));
}

/** Ids of tasks in `statuses` idle since before `before`, oldest first, at most `limit`, locked (skipping locked rows). */
export async function selectExpiredTaskIds(conn: Conn, statuses: readonly TaskStatus[], before: number, limit: number): Promise<TaskId[]> {
  const found = await rows(
    conn,
    `SELECT id FROM ${T}
      WHERE status IN (?) AND COALESCE(last_active_time, created_at) < ?
      ORDER BY COALESCE(last_active_time, created_at), id
      LIMIT ? FOR UPDATE SKIP LOCKED`,
    [statuses, before, limit],
  );
  return found.map((row) => Number(row.id));
}

/** Delete the tasks with their events and attempts; the counts deleted. */
export async function deleteTasksWithAudit(conn: Conn, ids: readonly TaskId[]): Promise<{ tasks: number; events: number; attempts: number }> {
  const counts = { tasks: 0, events: 0, attempts: 0 };
  for (let i = 0; i < ids.length; i += DELETE_CHUNK) {
    const part = ids.slice(i, i + DELETE_CHUNK);
    counts.events += (await exec(conn, `DELETE FROM ${TABLES.events} WHERE task_id IN (?)`, [part])).affectedRows;
    counts.attempts += (await exec(conn, `DELETE FROM ${TABLES.attempts} WHERE task_id IN (?)`, [part])).affectedRows;
    counts.tasks += (await exec(conn, `DELETE FROM ${T} WHERE id IN (?)`, [part])).affectedRows;
  }
  return counts;
}
