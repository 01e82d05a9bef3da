import { decodeTask, SWEEP_ERRORS, type TimedOutTask } from '@taskmill/contracts';
import { applyFailure } from './failure.js';
import type { Sql } from './sql.js';

/*
 * The timeout sweep every worker may run at once (SPEC A12, B5.5). It runs in one IMMEDIATE
 * transaction, so concurrent sweepers are serialised by SQLite's write lock: the second one sees
 * the first one's `timeout` rows and skips them. The UPDATE is still guarded on status, worker and
 * attempt so the change is a compare-and-set even if this code is ever run outside such a lock.
 */

const DUE = `
  SELECT * FROM taskmill_tasks
  WHERE status = 'running'
    AND (start_time + timeout * 1000 <= ? OR last_active_time < ?)
  ORDER BY id
  LIMIT ?`;

/** Time out running tasks past their total timeout or heartbeat lease (caller's transaction). */
export function sweepTimedOutTasks(
  sql: Sql,
  input: { now: number; heartbeat_timeout_ms: number; limit: number },
): TimedOutTask[] {
  if (input.limit <= 0) return [];
  const out: TimedOutTask[] = [];
  for (const row of sql.all(DUE, input.now, input.now - input.heartbeat_timeout_ms, input.limit)) {
    const task = decodeTask(row);
    const timeoutType =
      task.start_time !== null && task.start_time + task.timeout * 1000 <= input.now ? 'total' : 'heartbeat';
    const guard = sql.run(
      `UPDATE taskmill_tasks SET status = 'timeout' WHERE id = ? AND status = 'running' AND worker_id IS ? AND attempt = ?`,
      task.id,
      task.worker_id,
      task.attempt,
    );
    if (guard.changes === 0) continue;
    applyFailure(sql, task, 'timeout', SWEEP_ERRORS[timeoutType], timeoutType, input.now);
    out.push({ task_id: task.id, worker_id: task.worker_id ?? '', attempt: task.attempt, timeout_type: timeoutType });
  }
  return out;
}
