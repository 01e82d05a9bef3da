import type { TaskId, TaskStatus } from '@taskmill/contracts';
import type { Condition } from '@taskmill/contracts/store-kit';
import { where } from './conditions.js';
import type { Db } from './transaction.js';

/*
 * Bulk deletes (SPEC B9, A16): `deleteTasks` by filter and retention batches. A task goes with
 * its events and attempts in one statement (the tables carry no foreign keys).
 */

/** Ids of tasks matching every condition. */
export async function selectTaskIds(db: Db, conditions: readonly Condition[]): Promise<TaskId[]> {
  const rows = await db.sql`SELECT id FROM ${db.t.tasks} WHERE ${where(db, conditions)} ORDER BY id`;
  return rows.map((r) => Number(r.id));
}

/**
 * One bounded batch of expired tasks, oldest first, locked. Rows another purger holds are
 * skipped, so concurrent retention sweeps never collide or wait for each other.
 */
export async function selectExpiredTaskIds(db: Db, statuses: readonly TaskStatus[], before: number, limit: number): Promise<TaskId[]> {
  const rows = await db.sql`
    SELECT id FROM ${db.t.tasks}
    WHERE status = ANY(${statuses as TaskStatus[]}::text[]) AND COALESCE(last_active_time, created_at) < ${before}
    ORDER BY COALESCE(last_active_time, created_at), id
    LIMIT ${limit}
    FOR UPDATE SKIP LOCKED`;
  return rows.map((r) => Number(r.id));
}

/** Delete the tasks with their events and attempts; the counts deleted. */
export async function deleteTasksWithAudit(db: Db, ids: readonly TaskId[]): Promise<{ tasks: number; events: number; attempts: number }> {
  const { sql, t } = db;
  const list = ids as TaskId[];
  const [counts] = await sql`
    WITH gone_events AS (DELETE FROM ${t.events} WHERE task_id = ANY(${list}::int8[]) RETURNING 1),
    gone_attempts AS (DELETE FROM ${t.attempts} WHERE task_id = ANY(${list}::int8[]) RETURNING 1),
    gone_tasks AS (DELETE FROM ${t.tasks} WHERE id = ANY(${list}::int8[]) RETURNING 1)
    SELECT (SELECT count(*) FROM gone_tasks)::int AS tasks,
           (SELECT count(*) FROM gone_events)::int AS events,
           (SELECT count(*) FROM gone_attempts)::int AS attempts`;
  return { tasks: Number(counts.tasks), events: Number(counts.events), attempts: Number(counts.attempts) };
}
