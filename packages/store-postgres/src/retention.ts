import type { TaskId, TaskStatus } from '@taskmill/contracts';
import type { Condition } from '@taskmill/store-kit';
import { where } from './conditions.js';
import type { Db } from './transaction.js';

/*
 * Bulk deletes (docs/behaviour.md#retention): `deleteTasks` by filter and retention batches. A task goes with
 * its events and attempts in one statement (the tables carry no foreign keys).
 */

/** Ids of tasks matching every condition, by id, at most `limit` when given. */
export async function selectTaskIds(db: Db, conditions: readonly Condition[], limit?: number): Promise<TaskId[]> {
  const cut = limit === undefined ? db.sql`` : db.sql`LIMIT ${limit}`;
  const rows = await db.sql`SELECT id FROM ${db.t.tasks} WHERE ${where(db, conditions)} ORDER BY id ${cut}`;
  return rows.map((r) => Number(r.id));
}

/** Peek/lock rounds of one batch before settling for what was taken. */
const MAX_ROUNDS = 4;

/**
 * One bounded batch of expired tasks, oldest first (`COALESCE(last_active_time, created_at), id`),
 * locked. Rows another purger holds are skipped, so concurrent retention sweeps never collide or
 * wait for each other.
 *
 * Each status is read on its own along `idx_task_retention (status, last_active_time, created_at)`
 * (partial: retention statuses only), one branch for tasks last active before the cutoff and one
 * for tasks never active (none reach a retention status through the store, but rows written by
 * hand may), each stopping after `limit` entries; the union of at most 2 × statuses × limit rows
 * is sorted and cut. `status = ANY(…) AND COALESCE(…) < …` with that ORDER BY matched no index:
 * every batch read and sorted every row of the statuses, so a drain cost O(backlog²). The status
 * is written into the statement as a literal (the kit has checked it against the status list):
 * the planner can prove the partial index's predicate from a literal, never from a parameter of a
 * prepared statement's generic plan. The rows are then locked by primary key, re-checked.
 */
export async function selectExpiredTaskIds(db: Db, statuses: readonly TaskStatus[], before: number, limit: number): Promise<TaskId[]> {
  const { sql, t } = db;
  const taken: TaskId[] = [];
  const tried: TaskId[] = [];
  for (let round = 0; round < MAX_ROUNDS && taken.length < limit; round++) {
    const want = limit - taken.length;
    const skip = tried.length > 0 ? sql`AND id <> ALL(${tried}::int8[])` : sql``;
    const branches = statuses.map((status) => {
      const is = sql.unsafe(`status = '${literal(status)}'`);
      return sql`
        (SELECT id, last_active_time AS at FROM ${t.tasks}
          WHERE ${is} AND last_active_time < ${before} ${skip} ORDER BY last_active_time, id LIMIT ${want})
        UNION ALL
        (SELECT id, created_at AS at FROM ${t.tasks}
          WHERE ${is} AND last_active_time IS NULL AND created_at < ${before} ${skip} ORDER BY created_at, id LIMIT ${want})`;
    });
    const union = branches.reduce((all, branch) => sql`${all} UNION ALL ${branch}`);
    const peeked = (await sql`SELECT id FROM (${union}) AS c ORDER BY at, id LIMIT ${want}`).map((r) => Number(r.id));
    if (peeked.length === 0) break;
    const locked = await sql`
      SELECT id FROM ${t.tasks}
      WHERE id = ANY(${peeked}::int8[]) AND status = ANY(${statuses as TaskStatus[]}::text[]) AND COALESCE(last_active_time, created_at) < ${before}
      FOR UPDATE SKIP LOCKED`;
    taken.push(...locked.map((r) => Number(r.id)));
    // a short peek saw every candidate left; a short lock means another purge holds the rest
    if (peeked.length < want || locked.length === peeked.length) break;
    tried.push(...peeked);
  }
  return taken;
}

/** A status as an SQL literal: the kit passes only known statuses (lower case and `_`). */
function literal(status: string): string {
  if (!/^[a-z_]+$/.test(status)) throw new Error(`not a task status: ${status}`);
  return status;
}

/**
 * The cluster-wide retention lock: a transaction-scoped advisory lock keyed by the schema's channel,
 * tried without waiting and released at COMMIT. Seed 1 of the hash keeps it apart from the claim
 * locks' keys (seed 0), whatever the task names.
 */
export async function tryLockRetention(db: Db): Promise<boolean> {
  const [row] = await db.sql`SELECT pg_try_advisory_xact_lock(hashtextextended(${`${db.channel}:retention`}, 1)) AS ok`;
  return row.ok === true;
}

/** Delete the tasks with their events and attempts; the counts deleted. */
export async function deleteTasksWithAudit(db: Db, ids: readonly TaskId[]): Promise<{ tasks: number; events: number; attempts: number }> {
  const { sql, t } = db;
  const list = ids as TaskId[];
  const [counts] = await sql`
    WITH gone_events AS (DELETE FROM ${t.events} WHERE task_id = ANY(${list}::int8[]) RETURNING 1),
    gone_attempts AS (DELETE FROM ${t.attempts} WHERE task_id = ANY(${list}::int8[]) RETURNING 1),
    gone_signals AS (DELETE FROM ${t.signals} WHERE task_id = ANY(${list}::int8[]) RETURNING 1),
    gone_tasks AS (DELETE FROM ${t.tasks} WHERE id = ANY(${list}::int8[]) RETURNING 1)
    SELECT (SELECT count(*) FROM gone_tasks)::int AS tasks,
           (SELECT count(*) FROM gone_events)::int AS events,
           (SELECT count(*) FROM gone_attempts)::int AS attempts`;
  return { tasks: Number(counts.tasks), events: Number(counts.events), attempts: Number(counts.attempts) };
}
