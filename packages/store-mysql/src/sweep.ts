import type { TimedOutTask } from '@taskmill/contracts';
import { decodeTask, SWEEP_ERRORS } from '@taskmill/contracts';
import { applyFailure } from './finish.js';
import { rows, T } from './queries.js';
import type { Conn } from './transaction.js';

/*
 * The timeout sweep (SPEC A6, A12, B5.5). Every worker may run it at the same moment: the
 * candidates are taken with FOR UPDATE SKIP LOCKED, so each running task is timed out by exactly
 * one sweeper (the others skip it, or no longer find it running), and a task a worker is
 * finishing right now (row locked by its finishAttempt) is left for the next sweep.
 */

/** `sweepTimedOutTasks` (caller's transaction). */
export async function sweepTimedOutTasks(
  conn: Conn,
  input: { now: number; heartbeat_timeout_ms: number; limit: number },
): Promise<TimedOutTask[]> {
  const { now, heartbeat_timeout_ms, limit } = input;
  if (!(limit > 0)) return [];
  const heartbeatBefore = now - heartbeat_timeout_ms;
  const found = await rows(
    conn,
    `SELECT * FROM ${T}
      WHERE status = 'running'
        AND (COALESCE(start_time, 0) + timeout * 1000 <= ? OR last_active_time < ?)
      ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED`,
    [now, heartbeatBefore, Math.floor(limit)],
  );
  const out: TimedOutTask[] = [];
  for (const row of found) {
    const task = decodeTask(row);
    const timeoutType = (task.start_time ?? 0) + task.timeout * 1000 <= now ? 'total' : 'heartbeat';
    await applyFailure(conn, task, 'timeout', SWEEP_ERRORS[timeoutType], timeoutType, now);
    out.push({ task_id: task.id, worker_id: task.worker_id ?? '', attempt: task.attempt, timeout_type: timeoutType });
  }
  return out;
}
