import { decodeTask, events, planFailure, type TimeoutType } from '@taskmill/contracts';
import type { Queryable, RawRow, StoreContext } from './context.js';
import { writeEvents } from './event-log.js';
import { closeAttempt } from './task-rows.js';
import { creditParent } from './workflow.js';

/** A failed or timed-out attempt, as reported by the worker or decided by the timeout sweep. */
export interface AttemptFailure {
  status: 'failed' | 'timeout';
  error: string;
  timeout_type?: TimeoutType;
}

/**
 * Apply a failure to a locked running task (SPEC A5): with attempts left it stays
 * `failed`/`timeout` until `now + retry_interval`; exhausted it becomes `permanently_failed`
 * (async, parent credited) or `paused` (cron) with a second event. Closes the attempt.
 * Returns the updated row and whether a task became due now (notify).
 */
export async function applyFailure(
  tx: Queryable,
  ctx: StoreContext,
  row: RawRow,
  failure: AttemptFailure,
  now: number,
): Promise<{ row: RawRow; due: boolean }> {
  const { t } = ctx;
  const task = decodeTask(row);
  const plan = planFailure(task, now);
  const { status, error } = failure;
  await closeAttempt(tx, t, task.id, task.attempt, {
    outcome: status,
    error,
    timeout_flag: status === 'timeout',
    now,
  });
  if (plan.kind === 'retry') {
    const [updated] = await tx`
      UPDATE ${t.tasks}
      SET status = ${status}, error = ${error}, next_run_time = ${plan.next_run_time}, last_active_time = ${now}
      WHERE id = ${task.id}
      RETURNING *`;
    const retry = { retry_count: task.retry_count, next_run_time: plan.next_run_time };
    await writeEvents(tx, t, [events.failed(task, status, error, retry, failure.timeout_type, now)]);
    return { row: updated, due: plan.next_run_time <= now };
  }
  const [updated] = await tx`
    UPDATE ${t.tasks}
    SET status = ${plan.status}, error = ${error}, last_active_time = ${now}
    WHERE id = ${task.id}
    RETURNING *`;
  const retry = { retry_count: task.retry_count, next_run_time: null };
  await writeEvents(tx, t, [
    events.failed(task, status, error, retry, failure.timeout_type, now),
    events.exhausted(task, status, plan.status, error, now),
  ]);
  let due = false;
  if (plan.status === 'permanently_failed') {
    due = await creditParent(tx, ctx, updated, { task_id: task.id, error }, now);
  }
  return { row: updated, due };
}
