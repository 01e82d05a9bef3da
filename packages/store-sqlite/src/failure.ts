import { events, planFailure, type Task, type TimeoutType } from '@taskmill/contracts';
import type { Sql } from './sql.js';
import { closeAttempt, readTask, writeEvent } from './task-writes.js';
import { creditParent } from './workflow.js';

/**
 * A running task's attempt failed or timed out (handler outcome or maintenance sweep): close the
 * attempt, then apply {@link planFailure} — wait for the retry in `failed`/`timeout`, or exhaust
 * to `permanently_failed` (crediting a parent) / `paused` (cron). Inside the caller's transaction.
 */
export function applyFailure(
  sql: Sql,
  task: Task,
  status: 'failed' | 'timeout',
  error: string,
  timeoutType: TimeoutType | undefined,
  now: number,
): void {
  const plan = planFailure(task, now);
  const nextRunTime = plan.kind === 'retry' ? plan.next_run_time : null;
  sql.run(
    `UPDATE taskmill_tasks
     SET status = ?, error = ?, last_active_time = ?, next_run_time = COALESCE(?, next_run_time)
     WHERE id = ?`,
    status,
    error,
    now,
    nextRunTime,
    task.id,
  );
  closeAttempt(sql, task.id, now, status, error, status === 'timeout');
  writeEvent(sql, events.failed(task, status, error, { retry_count: task.retry_count, next_run_time: nextRunTime }, timeoutType, now));
  if (plan.kind === 'retry') return;

  sql.run('UPDATE taskmill_tasks SET status = ? WHERE id = ?', plan.status, task.id);
  writeEvent(sql, events.exhausted(task, status, plan.status, error, now));
  if (plan.status === 'permanently_failed') creditParent(sql, readTask(sql, task.id)!, now);
}
