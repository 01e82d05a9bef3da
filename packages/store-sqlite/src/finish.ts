import { events, type FinishOutcome, type FinishResult, type Fence, type TaskId } from '@taskmill/contracts';
import { applyFailure } from './failure.js';
import { toBlob, type Sql } from './sql.js';
import { closeAttempt, holdsFence, readTask, writeEvent } from './task-writes.js';
import { creditParent, spawnChildren } from './workflow.js';

/**
 * Apply how an attempt ended (see `FinishOutcome`), fenced: the row is read under the caller's
 * IMMEDIATE transaction, so the fence check and the writes that follow see the same row.
 */
export function finishAttempt(sql: Sql, fence: Fence, outcome: FinishOutcome, now: number): FinishResult {
  const task = readTask(sql, fence.task_id);
  if (!task) return { applied: false, task: null, child_ids: [] };
  if (!holdsFence(task, fence)) return { applied: false, task, child_ids: [] };

  let childIds: TaskId[] = [];
  switch (outcome.kind) {
    case 'completed': {
      sql.run(
        `UPDATE taskmill_tasks SET status = 'completed', result = ?, last_active_time = ? WHERE id = ?`,
        outcome.result,
        now,
        task.id,
      );
      closeAttempt(sql, task.id, now, 'completed');
      writeEvent(sql, events.completed(task, now));
      creditParent(sql, readTask(sql, task.id)!, now);
      break;
    }
    case 'rescheduled': {
      sql.run(
        `UPDATE taskmill_tasks
         SET status = 'pending', result = ?, next_run_time = ?, stage = 0, retry_count = 0, last_active_time = ?
         WHERE id = ?`,
        outcome.result,
        outcome.next_run_time,
        now,
        task.id,
      );
      closeAttempt(sql, task.id, now, 'completed');
      writeEvent(sql, events.cronRescheduled(task, outcome.next_run_time, now));
      break;
    }
    case 'failed':
      applyFailure(sql, task, outcome.status, outcome.error, outcome.timeout_type, now);
      break;
    case 'suspended': {
      const context = outcome.context ? toBlob(outcome.context) : null;
      sql.run(
        `UPDATE taskmill_tasks
         SET status = 'suspended', suspend_reason = ?, children_results = '',
             context = CASE WHEN ? IS NULL THEN context ELSE ? END, last_active_time = ?
         WHERE id = ?`,
        outcome.reason,
        context,
        context,
        now,
        task.id,
      );
      closeAttempt(sql, task.id, now, 'suspended');
      writeEvent(sql, events.suspended(task, outcome.reason, outcome.metadata ?? null, now));
      break;
    }
    case 'spawned':
      childIds = spawnChildren(sql, task, outcome.children, outcome.context, now);
      break;
    case 'interrupted': {
      sql.run(
        `UPDATE taskmill_tasks
         SET status = 'pending', stage = 0, next_run_time = ?, last_active_time = ?, worker_id = NULL,
             start_time = NULL, result = NULL
         WHERE id = ?`,
        now,
        now,
        task.id,
      );
      closeAttempt(sql, task.id, now, 'interrupted');
      writeEvent(
        sql,
        events.recovered(task, fence.worker_id, fence.worker_id, null, outcome.reason as 'shutdown_timeout', now),
      );
      break;
    }
  }
  return { applied: true, task: readTask(sql, task.id), child_ids: childIds };
}
