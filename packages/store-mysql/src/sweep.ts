import type { Task } from '@taskmill/contracts';
import { decodeTask, TABLES } from '@taskmill/store-kit';
import { rows, type Conn } from './transaction.js';

/*
 * Candidates of the timeout sweep (docs/behaviour.md#timeouts, #maintenance) and of worker recovery (docs/behaviour.md#recovery). Every
 * worker may run both at the same moment: the rows are taken with FOR UPDATE SKIP LOCKED, so each
 * running task is handled by exactly one sweeper (the others skip it, or no longer find it
 * running), and a task a worker is finishing right now (row locked by its finishAttempt) is left
 * for the next round.
 */

const T = TABLES.tasks;

/** Running tasks past their total timeout or heartbeat lease, locked, by id, at most `limit`. */
export async function timedOutCandidates(conn: Conn, now: number, heartbeatCutoff: number, limit: number): Promise<Task[]> {
  const found = await rows(
    conn,
    `SELECT * FROM ${T}
      WHERE status = 'running' AND (start_time + timeout * 1000 <= ? OR last_active_time < ?)
      ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
    [now, heartbeatCutoff, limit],
  );
  return found.map(decodeTask);
}

/** Running tasks of these workers, locked, by id, at most `limit`. */
export async function runningTasksOf(conn: Conn, workerIds: readonly string[], limit: number): Promise<Task[]> {
  const found = await rows(
    conn,
    `SELECT * FROM ${T} WHERE worker_id IN (?) AND status = 'running' ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
    [[...new Set(workerIds)], limit],
  );
  return found.map(decodeTask);
}

