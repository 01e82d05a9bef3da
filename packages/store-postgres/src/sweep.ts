import type { Task } from '@taskmill/contracts';
import { decodeTask } from '@taskmill/store-kit';
import { endFrozenTaskSessions } from './frozen-sessions.js';
import type { Db } from './transaction.js';

/*
 * Candidates of the maintenance that every worker may run at the same time (docs/behaviour.md#maintenance, #worker-registry): each
 * batch locks its rows with `FOR UPDATE SKIP LOCKED`, so concurrent sweepers split the work
 * instead of repeating it, and the lock's re-check of the WHERE clause (READ COMMITTED) drops a
 * row that stopped qualifying while we waited; the kit's guarded UPDATE then makes every change
 * a compare-and-set.
 */

/** Running tasks past their total timeout or heartbeat deadline, locked, by id, at most `limit`. */
export async function timedOutCandidates(db: Db, now: number, heartbeatCutoff: number, limit: number): Promise<Task[]> {
  const rows = await db.sql`
    SELECT * FROM ${db.t.tasks}
    WHERE status = 'running' AND (start_time + timeout * 1000 <= ${now} OR last_active_time < ${heartbeatCutoff})
    ORDER BY id
    LIMIT ${limit}
    FOR UPDATE SKIP LOCKED`;
  return rows.map(decodeTask);
}

/**
 * Running tasks of these workers, locked, by id, at most `limit`. A task row that a stopped process
 * holds where the server's idle limit cannot end its session is freed for the next look first
 * (see frozen-sessions.ts); the lease looks again at each renewal.
 */
export async function runningTasksOf(db: Db, workerIds: readonly string[], limit: number): Promise<Task[]> {
  await endFrozenTaskSessions(db, workerIds);
  const rows = await db.sql`
    SELECT * FROM ${db.t.tasks}
    WHERE status = 'running' AND worker_id = ANY(${workerIds as string[]}::text[])
    ORDER BY id
    LIMIT ${limit}
    FOR UPDATE SKIP LOCKED`;
  return rows.map(decodeTask);
}
