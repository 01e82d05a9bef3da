import type { Task } from '@taskmill/contracts';
import { decodeTask, TABLES } from '@taskmill/store-kit';
import { jsonList, type SqliteConnection } from './connection.js';

/*
 * Candidates of the timeout sweep and of worker recovery. Every worker may run these at once
 * (docs/behaviour.md#maintenance, #worker-registry): each runs in one IMMEDIATE transaction, so concurrent sweepers are
 * serialised by SQLite's write lock and the second one sees the first one's rows. The kit's
 * changes are still guarded on status, worker and attempt, so a change is a compare-and-set even
 * if this code is ever run outside such a lock.
 */

/** Running tasks past their total timeout or heartbeat lease, by id, at most `limit`. */
export async function timedOutCandidates(sql: SqliteConnection, now: number, heartbeatCutoff: number, limit: number): Promise<Task[]> {
  return sql
    .all(
      `SELECT * FROM ${TABLES.tasks}
       WHERE status = 'running' AND (start_time + timeout * 1000 <= ? OR last_active_time < ?)
       ORDER BY id LIMIT ?`,
      now,
      heartbeatCutoff,
      limit,
    )
    .map(decodeTask);
}

/** Running tasks of these workers, by id, at most `limit`. */
export async function runningTasksOf(sql: SqliteConnection, workerIds: readonly string[], limit: number): Promise<Task[]> {
  return sql
    .all(
      `SELECT * FROM ${TABLES.tasks}
       WHERE status = 'running' AND worker_id IN (SELECT value FROM json_each(?))
       ORDER BY id LIMIT ?`,
      jsonList(workerIds),
      limit,
    )
    .map(decodeTask);
}
