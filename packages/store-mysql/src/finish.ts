import type { EventDraft, Fence, FinishOutcome, FinishResult, RawRow, Task } from '@taskmill/contracts';
import { decodeTask, events, planFailure } from '@taskmill/contracts';
import { closeAttempt, insertEvents, lockTaskRow, selectTask, toBuffer, toId, updateTask } from './queries.js';
import type { Conn } from './transaction.js';
import { childEntry, creditParent, spawnChildren } from './workflow.js';

/*
 * Applying the outcome of an attempt (`finishAttempt`), fenced: the task row is locked with
 * SELECT … FOR UPDATE and changed only if it is still `running` under the fence's worker AND
 * attempt. A stale worker (recovered, timed out, paused, reclaimed) therefore changes nothing.
 */

/** True when `task` is still held by `fence`. */
export function holds(task: Task, fence: Fence): boolean {
  return task.status === 'running' && task.worker_id === fence.worker_id && task.attempt === fence.attempt;
}

/**
 * A failed or timed-out attempt of a locked running task: close the attempt, then retry later
 * or exhaust (SPEC A5) per {@link planFailure}; an exhausted child is credited to its parent.
 */
export async function applyFailure(
  conn: Conn,
  task: Task,
  status: 'failed' | 'timeout',
  error: string,
  timeoutType: string | undefined,
  now: number,
): Promise<void> {
  const plan = planFailure(task, now);
  await closeAttempt(conn, task.id, task.attempt, { ended_at: now, outcome: status, error, timeout_flag: status === 'timeout' });
  const drafts: EventDraft[] = [];
  if (plan.kind === 'retry') {
    await updateTask(conn, task.id, { status, error, next_run_time: plan.next_run_time, last_active_time: now });
    drafts.push(events.failed(task, status, error, { retry_count: task.retry_count, next_run_time: plan.next_run_time }, timeoutType, now));
    await insertEvents(conn, drafts);
    return;
  }
  await updateTask(conn, task.id, { status: plan.status, error, last_active_time: now });
  drafts.push(events.failed(task, status, error, { retry_count: task.retry_count, next_run_time: null }, timeoutType, now));
  drafts.push(events.exhausted(task, status, plan.status, error, now));
  await insertEvents(conn, drafts);
  if (plan.status === 'permanently_failed') {
    await creditParent(conn, task, childEntry(task, 'permanently_failed', null, error), now);
  }
}

async function apply(conn: Conn, row: RawRow, task: Task, outcome: FinishOutcome, now: number): Promise<number[]> {
  const ended = { ended_at: now, error: null, timeout_flag: false };
  switch (outcome.kind) {
    case 'completed': {
      await updateTask(conn, task.id, { status: 'completed', result: outcome.result, last_active_time: now, suspend_reason: null });
      await closeAttempt(conn, task.id, task.attempt, { ...ended, outcome: 'completed' });
      await insertEvents(conn, [events.completed(task, now)]);
      await creditParent(conn, task, childEntry(task, 'completed', outcome.result, null), now);
      return [];
    }
    case 'rescheduled': {
      await updateTask(conn, task.id, {
        status: 'pending',
        result: outcome.result,
        next_run_time: outcome.next_run_time,
        stage: 0,
        retry_count: 0,
        last_active_time: now,
        suspend_reason: null,
      });
      await closeAttempt(conn, task.id, task.attempt, { ...ended, outcome: 'completed' });
      await insertEvents(conn, [events.cronRescheduled(task, outcome.next_run_time, now)]);
      return [];
    }
    case 'failed':
      await applyFailure(conn, task, outcome.status, outcome.error, outcome.timeout_type, now);
      return [];
    case 'suspended': {
      const values: Record<string, unknown> = {
        status: 'suspended',
        suspend_reason: outcome.reason,
        children_results: '',
        last_active_time: now,
      };
      if (outcome.context) values.context = toBuffer(outcome.context);
      await updateTask(conn, task.id, values);
      await closeAttempt(conn, task.id, task.attempt, { ...ended, outcome: 'suspended' });
      await insertEvents(conn, [events.suspended(task, outcome.reason, outcome.metadata ?? null, now)]);
      return [];
    }
    case 'spawned': {
      await closeAttempt(conn, task.id, task.attempt, { ...ended, outcome: 'suspended' });
      return spawnChildren(conn, row, outcome.children, outcome.context, now);
    }
    case 'interrupted': {
      await updateTask(conn, task.id, {
        status: 'pending',
        stage: 0,
        next_run_time: now,
        last_active_time: now,
        worker_id: null,
        start_time: null,
        result: null,
      });
      await closeAttempt(conn, task.id, task.attempt, { ...ended, outcome: 'interrupted' });
      const reason = outcome.reason === 'worker_unavailable' ? 'worker_unavailable' : 'shutdown_timeout';
      await insertEvents(conn, [events.recovered(task, task.worker_id, task.worker_id ?? '', null, reason, now)]);
      return [];
    }
  }
}

/** `finishAttempt` (caller's transaction). */
export async function finishAttempt(conn: Conn, fence: Fence, outcome: FinishOutcome, now: number): Promise<FinishResult> {
  const id = toId(fence.task_id);
  const row = id === null ? null : await lockTaskRow(conn, id);
  if (!row || id === null) return { applied: false, task: null, child_ids: [] };
  const task = decodeTask(row);
  if (!holds(task, fence)) return { applied: false, task, child_ids: [] };
  const childIds = await apply(conn, row, task, outcome, now);
  return { applied: true, task: await selectTask(conn, id), child_ids: childIds };
}
