import { FINAL_STATUSES, InvalidTransitionError, parseTaskId, TaskNotFoundError, type CascadeCancelResult, type Task, type TaskId } from '@taskmill/contracts';
import * as changes from '../changes.js';
import type { StoreWriter } from '../statements.js';
import { apply, creditParent } from './apply.js';

/*
 * A task's subtree (docs/behaviour.md#cascade-cancel): cancelling it whole, for `cancelTaskTree` and
 * for a parent failed by a child whose rule is `fail` (docs/behaviour.md#child-failure-rules).
 */

/** Parent ids per statement when walking a tree level by level. */
const LEVEL_CHUNK = 1000;

/**
 * Every descendant of `top` (children, their children…, whatever their status), parents before
 * children, locked. Walked level by level through `parent_id`, so a subtree costs reads of its
 * own size however large the rest of the workflow is.
 */
async function lockDescendants(tx: StoreWriter, top: Task): Promise<Task[]> {
  const out: Task[] = [];
  let level: TaskId[] = [top.id];
  while (level.length > 0) {
    const next: TaskId[] = [];
    for (let start = 0; start < level.length; start += LEVEL_CHUNK) {
      const parents = level.slice(start, start + LEVEL_CHUNK);
      next.push(...(await tx.selectTaskIds([{ kind: 'in', column: 'parent_id', values: parents }])));
    }
    for (let start = 0; start < next.length; start += LEVEL_CHUNK) out.push(...(await tx.lockTasks(next.slice(start, start + LEVEL_CHUNK))));
    level = next;
  }
  return out;
}

function unfinished(task: Task): boolean {
  return !FINAL_STATUSES.includes(task.status);
}

/**
 * Cancel every unfinished descendant of `top` with `reason` (events `cascade: true, cancelled_by: top`),
 * parents first in one `apply`: each cancelled child credits its parent, which is already cancelled
 * (or is `top`, which the caller has ended), so no parent resumes. Returns the ids cancelled.
 */
export async function cancelDescendants(tx: StoreWriter, top: Task, reason: string, now: number): Promise<TaskId[]> {
  const list = (await lockDescendants(tx, top)).filter(unfinished).map((task) => changes.cancel(task, reason, now, top.id));
  if (list.length === 0) return [];
  const { applied } = await apply(tx, list, now);
  return list.filter((_, i) => applied[i]).map((change) => change.task_id);
}

/** `cancelTaskTree` (docs/behaviour.md#cascade-cancel): the task, then its unfinished descendants, in this one transaction. */
export async function cancelTaskTree(tx: StoreWriter, taskId: unknown, reason: string | undefined, now: number): Promise<CascadeCancelResult> {
  const id = parseTaskId(taskId);
  const task = id === null ? null : await tx.lockTask(id);
  if (!task) throw new TaskNotFoundError(taskId);
  const text = reason ?? 'Task cancelled';
  const cancelled: TaskId[] = [];
  // the task first (so none of its children resumes it), its subtree next, its credit to its own
  // parent last: that parent's rule may fail it and cancel its other children, never this subtree
  const own = unfinished(task) ? changes.cancel(task, text, now, task.id) : null;
  if (own) {
    await apply(tx, [{ ...own, credit: null }], now);
    cancelled.push(task.id);
  }
  cancelled.push(...(await cancelDescendants(tx, (await tx.lockTask(task.id))!, text, now)));
  if (cancelled.length === 0) throw new InvalidTransitionError(task.id, task.status, 'permanently_failed', task.worker_id);
  if (own?.credit && (await creditParent(tx, task.id, own.credit, now))) await tx.wake();
  return { task: (await tx.lockTask(task.id))!, cancelled };
}
