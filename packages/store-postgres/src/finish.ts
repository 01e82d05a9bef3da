import {
  decodeTask,
  events,
  type Fence,
  type FinishOutcome,
  type FinishResult,
  parseJson,
  ValidationError,
} from '@taskmill/contracts';
import type { RawRow, StoreContext } from './context.js';
import { isValidId } from './context.js';
import { writeEvents } from './event-log.js';
import { applyFailure } from './failure.js';
import { notifyDue } from './notify.js';
import { closeAttempt, holdsFence, lockTask } from './task-rows.js';
import { inTransaction } from './transaction.js';
import { creditParent, insertChildren, resumeAfterChildren } from './workflow.js';

/**
 * Apply the outcome of an attempt (contracts `FinishOutcome`), fenced: the task row is locked
 * and nothing changes unless it is still running under the fence's worker and attempt.
 */
export async function finishAttempt(
  ctx: StoreContext,
  fence: Fence,
  outcome: FinishOutcome,
  now: number,
): Promise<FinishResult> {
  if (!isValidId(fence?.task_id)) return { applied: false, task: null, child_ids: [] };
  const { t } = ctx;
  return inTransaction(ctx, 'finishAttempt', async (tx) => {
    const row = await lockTask(tx, t, fence.task_id);
    if (!row) return { applied: false, task: null, child_ids: [] };
    if (!holdsFence(row, fence)) return { applied: false, task: decodeTask(row), child_ids: [] };
    const task = decodeTask(row);
    let updated: RawRow;
    let due = false;
    let childIds: number[] = [];

    switch (outcome.kind) {
      case 'completed': {
        await closeAttempt(tx, t, task.id, task.attempt, { outcome: 'completed', now });
        [updated] = await tx`
          UPDATE ${t.tasks} SET status = 'completed', result = ${outcome.result ?? null}, last_active_time = ${now}
          WHERE id = ${task.id} RETURNING *`;
        await writeEvents(tx, t, [events.completed(task, now)]);
        due = await creditParent(tx, ctx, updated, { task_id: task.id, result: parseJson(outcome.result ?? null) }, now);
        break;
      }
      case 'rescheduled': {
        await closeAttempt(tx, t, task.id, task.attempt, { outcome: 'completed', now });
        [updated] = await tx`
          UPDATE ${t.tasks}
          SET status = 'pending', result = ${outcome.result ?? null}, next_run_time = ${outcome.next_run_time},
              stage = 0, retry_count = 0, last_active_time = ${now}
          WHERE id = ${task.id} RETURNING *`;
        await writeEvents(tx, t, [events.cronRescheduled(task, outcome.next_run_time, now)]);
        due = outcome.next_run_time <= now;
        break;
      }
      case 'failed': {
        const applied = await applyFailure(
          tx,
          ctx,
          row,
          { status: outcome.status, error: outcome.error, timeout_type: outcome.timeout_type },
          now,
        );
        updated = applied.row;
        due = applied.due;
        break;
      }
      case 'suspended': {
        await closeAttempt(tx, t, task.id, task.attempt, { outcome: 'suspended', now });
        const context = outcome.context == null ? tx`` : tx`, context = ${Buffer.from(outcome.context)}`;
        [updated] = await tx`
          UPDATE ${t.tasks}
          SET status = 'suspended', suspend_reason = ${outcome.reason}, children_results = '',
              last_active_time = ${now} ${context}
          WHERE id = ${task.id} RETURNING *`;
        await writeEvents(tx, t, [events.suspended(task, outcome.reason, outcome.metadata ?? null, now)]);
        break;
      }
      case 'spawned': {
        await closeAttempt(tx, t, task.id, task.attempt, { outcome: 'suspended', now });
        const children = outcome.children ?? [];
        const context = outcome.context == null ? tx`` : tx`, context = ${Buffer.from(outcome.context)}`;
        [updated] = await tx`
          UPDATE ${t.tasks}
          SET status = 'suspended', suspend_reason = 'awaiting_subtasks', children_results = '',
              total_children = total_children + ${children.length}, last_active_time = ${now} ${context}
          WHERE id = ${task.id} RETURNING *`;
        childIds = await insertChildren(tx, ctx, updated, children, now);
        await writeEvents(
          tx,
          t,
          events.spawned(task, childIds, children.map((c) => c.name), now),
        );
        if (children.length === 0) updated = await resumeAfterChildren(tx, ctx, updated, now);
        due = true;
        break;
      }
      case 'interrupted': {
        await closeAttempt(tx, t, task.id, task.attempt, { outcome: 'interrupted', now });
        [updated] = await tx`
          UPDATE ${t.tasks}
          SET status = 'pending', stage = 0, next_run_time = ${now}, worker_id = NULL, start_time = NULL,
              result = NULL, last_active_time = ${now}
          WHERE id = ${task.id} RETURNING *`;
        const reason = outcome.reason as 'shutdown_timeout';
        await writeEvents(tx, t, [events.recovered(task, fence.worker_id, fence.worker_id, null, reason, now)]);
        due = true;
        break;
      }
      default:
        throw new ValidationError(`Unknown finish outcome: ${String((outcome as { kind?: unknown })?.kind)}`);
    }
    if (due) await notifyDue(tx, ctx);
    // Re-read: crediting/resuming may have touched this row's event columns after the UPDATE.
    const [final] = await tx`SELECT * FROM ${t.tasks} WHERE id = ${task.id}`;
    return { applied: true, task: decodeTask(final ?? updated), child_ids: childIds };
  });
}
