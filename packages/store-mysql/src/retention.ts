import type { TaskId, TaskStatus } from '@taskmill/contracts';
import { TABLES, type Condition } from '@taskmill/store-kit';
import { where } from './conditions.js';
import { exec, rows, type Conn } from './transaction.js';

/*
 * Deleting tasks with their audit rows (docs/behaviour.md#retention, #schema). Task-centric: a task goes only if it
 * qualifies itself; no cascade. Its events and attempts go in the same transaction, so audit
 * rows never outlive their task. The purge locks its batch with FOR UPDATE SKIP LOCKED, so
 * concurrent sweepers split the work instead of waiting on (or double-counting) each other.
 */

const T = TABLES.tasks;

/** Keeps `IN (…)` lists and packets bounded. */
const DELETE_CHUNK = 500;

/** Ids of tasks matching every condition, by id, at most `limit` when given, locked. */
export async function selectTaskIds(conn: Conn, conditions: readonly Condition[], limit?: number): Promise<TaskId[]> {
  const filter = where(conditions);
  const cut = limit === undefined ? '' : ` LIMIT ${Math.floor(limit)}`;
  const found = await rows(conn, `SELECT id FROM ${T}${filter.sql} ORDER BY id${cut} FOR UPDATE`, filter.params);
  return found.map((row) => Number(row.id));
}

/** Peek/lock rounds of one batch before settling for what was taken. */
const MAX_ROUNDS = 4;

/**
 * Ids of tasks in `statuses` idle since before `before`, oldest first (`COALESCE(last_active_time,
 * created_at), id`), at most `limit`, locked (skipping rows another purge holds).
 *
 * Two steps, as the claim does (claim.ts says why InnoDB needs them):
 *
 *   1. peek (non-locking) along an index per status, each branch stopping after `limit` entries:
 *        (… FORCE INDEX (idx_task_timeout) WHERE status = ? AND last_active_time < ?
 *           ORDER BY last_active_time, id LIMIT n)
 *        UNION ALL (… FORCE INDEX (idx_task_retention) WHERE status = ? AND last_active_time IS NULL
 *           AND created_at < ? ORDER BY created_at, id LIMIT n) … ORDER BY at, id LIMIT n
 *   2. lock the chosen rows by primary key, re-checking the condition, FOR UPDATE SKIP LOCKED.
 *
 * `status IN (…) AND COALESCE(…) < ?` with that ORDER BY is served by no index: MariaDB read every
 * expired row and sorted them ("Using filesort") for each batch of 100, so a drain cost O(backlog²):
 * 747 tasks/s over a backlog of 20,000 while two workers ran. An equality on status and a range on
 * `last_active_time` is an index range in exactly that order (InnoDB appends the primary key to
 * every secondary index, so `(status, last_active_time)` is `(status, last_active_time, id)`), and
 * covering: no row is read until step 2. The `IS NULL` branch keeps tasks that were never active
 * (none reach a retention status through the store, but rows written by hand may).
 */
export async function selectExpiredTaskIds(conn: Conn, statuses: readonly TaskStatus[], before: number, limit: number): Promise<TaskId[]> {
  const taken: TaskId[] = [];
  const tried: TaskId[] = [];
  for (let round = 0; round < MAX_ROUNDS && taken.length < limit; round++) {
    const want = limit - taken.length;
    const skip = tried.length > 0 ? ' AND id NOT IN (?)' : '';
    const branches: string[] = [];
    const params: unknown[] = [];
    for (const status of statuses) {
      branches.push(
        `(SELECT id, last_active_time AS at FROM ${T} FORCE INDEX (idx_task_timeout)
           WHERE status = ? AND last_active_time < ?${skip} ORDER BY last_active_time, id LIMIT ?)`,
        `(SELECT id, created_at AS at FROM ${T} FORCE INDEX (idx_task_retention)
           WHERE status = ? AND last_active_time IS NULL AND created_at < ?${skip} ORDER BY created_at, id LIMIT ?)`,
      );
      for (let i = 0; i < 2; i++) params.push(status, before, ...(skip ? [tried] : []), want);
    }
    const peeked = (await rows(conn, `${branches.join(' UNION ALL ')} ORDER BY at, id LIMIT ?`, [...params, want])).map((row) => Number(row.id));
    if (peeked.length === 0) break;
    const locked = await rows(
      conn,
      `SELECT id, COALESCE(last_active_time, created_at) AS at FROM ${T}
        WHERE id IN (?) AND status IN (?) AND COALESCE(last_active_time, created_at) < ?
        ORDER BY at, id FOR UPDATE SKIP LOCKED`,
      [peeked, statuses, before],
    );
    taken.push(...locked.map((row) => Number(row.id)));
    // a short peek saw every candidate left; a short lock means another purge holds the rest
    if (peeked.length < want || locked.length === peeked.length) break;
    tried.push(...peeked);
  }
  return taken;
}

/** The retention lock's row in `taskmill_claim_locks` (shared with a task of that name and a cluster limit: they would only take turns). */
const RETENTION_LOCK = 'taskmill:retention';

/**
 * The cluster-wide retention lock: the X lock of one row of `taskmill_claim_locks`, held until
 * COMMIT (MariaDB has no transaction-scoped named lock, and a session-scoped GET_LOCK would stay
 * with a pooled connection if the transaction failed before releasing it). `FOR UPDATE SKIP
 * LOCKED` tries it without waiting; when it returns nothing, a plain read tells a held row from a
 * missing one, which is created (and so locked) on first use.
 */
export async function tryLockRetention(conn: Conn): Promise<boolean> {
  const locked = await rows(conn, 'SELECT name FROM taskmill_claim_locks WHERE name = ? FOR UPDATE SKIP LOCKED', [RETENTION_LOCK]);
  if (locked.length > 0) return true;
  const exists = await rows(conn, 'SELECT name FROM taskmill_claim_locks WHERE name = ?', [RETENTION_LOCK]);
  if (exists.length > 0) return false;
  await exec(conn, 'INSERT INTO taskmill_claim_locks (name) VALUES (?) ON DUPLICATE KEY UPDATE name = name', [RETENTION_LOCK]);
  return true;
}

/** Delete the tasks with their events and attempts; the counts deleted. */
export async function deleteTasksWithAudit(conn: Conn, ids: readonly TaskId[]): Promise<{ tasks: number; events: number; attempts: number }> {
  const counts = { tasks: 0, events: 0, attempts: 0 };
  for (let i = 0; i < ids.length; i += DELETE_CHUNK) {
    const part = ids.slice(i, i + DELETE_CHUNK);
    counts.events += (await exec(conn, `DELETE FROM ${TABLES.events} WHERE task_id IN (?)`, [part])).affectedRows;
    counts.attempts += (await exec(conn, `DELETE FROM ${TABLES.attempts} WHERE task_id IN (?)`, [part])).affectedRows;
    await exec(conn, `DELETE FROM ${TABLES.signals} WHERE task_id IN (?)`, [part]);
    counts.tasks += (await exec(conn, `DELETE FROM ${T} WHERE id IN (?)`, [part])).affectedRows;
  }
  return counts;
}
