import type { TaskId } from '@taskmill/contracts';
import * as changes from '../changes.js';
import type { TaskChange } from '../changes.js';
import type { StoreWriter } from '../statements.js';
import { insertDeadLetter } from './create.js';
import { cancelDescendants } from './tree.js';

/*
 * Every write operation of the Store contract, once, over a {@link StoreWriter} (one
 * transaction). The row each decision rests on is read (and locked) inside that transaction, so a
 * decision and the writes it leads to are atomic on every dialect. This file: applying changes,
 * crediting parents and waking claimers, which every operation goes through.
 */

/**
 * Apply changes and what follows from them: a change whose task reached a final status as a child
 * credits its parent exactly once (guarded by the child's `parent_credited` flag), which resumes
 * the parent when it was the last outstanding child; a task that failed for good with a dead-letter
 * target gets its dead letter inserted; any change that made a task claimable wakes claimers. Returns whether each change applied.
 */
export async function apply(tx: StoreWriter, list: TaskChange[], now: number): Promise<{ applied: boolean[]; event_ids: number[] }> {
  const result = await tx.applyChanges(list);
  let due = false;
  for (let i = 0; i < list.length; i++) {
    if (!result.applied[i]) continue;
    const c = list[i];
    due ||= c.due;
    // the dead letter only when the change applied: a guarded change that found the task already
    // moved on (a second sweeper, a stale worker) writes nothing, so it is inserted once
    if (c.dead_letter) await insertDeadLetter(tx, c.task_id, c.dead_letter, now);
    if (c.credit) due = (await creditParent(tx, c.task_id, c.credit, now)) || due;
  }
  if (due) await tx.wake();
  return result;
}

/**
 * Credit a finished child to its parent, by the child's rule for a failure
 * (docs/behaviour.md#crediting, #child-failure-rules): a completed child, or a failed one under
 * `continue`, adds its entry to the parent's results; under `ignore` it is counted without an
 * entry; under `fail` its entry is added and a parent still waiting for its children fails at
 * once, its other unfinished descendants cancelled. Otherwise the last child resumes the parent.
 */
export async function creditParent(tx: StoreWriter, childId: TaskId, entry: NonNullable<TaskChange['credit']>, now: number): Promise<boolean> {
  const child = await tx.lockTask(childId);
  if (!child || child.parent_id === null) return false;
  if (!(await tx.markCredited(child.id))) return false;
  const rule = 'error' in entry ? (child.on_failure ?? 'continue') : 'continue';
  const parent = await tx.addChildResult(child.parent_id, rule === 'ignore' ? '' : changes.childResultLine(entry));
  if (!parent) return false;
  if (rule === 'fail' && 'error' in entry && changes.awaitingChildren(parent)) {
    // the parent first, so that none of the children cancelled next can resume it; its own credit
    // last, so that a grandparent failed by it in turn finds this subtree already cancelled
    const failed = changes.failByChild(parent, child, entry.error, now);
    const { applied } = await apply(tx, [{ ...failed, credit: null }], now);
    if (!applied[0]) return false;
    await cancelDescendants(tx, parent, `Cancelled: parent task ${parent.id} failed because child task ${child.id} failed`, now);
    return failed.credit ? creditParent(tx, parent.id, failed.credit, now) : false;
  }
  if (!changes.parentReady(parent)) return false;
  await apply(tx, [changes.resumeParent(parent, now)], now);
  return true;
}
