import type { TaskId } from '@taskmill/contracts';
import * as changes from '../changes.js';
import type { TaskChange } from '../changes.js';
import type { StoreWriter } from '../statements.js';
import { insertDeadLetter } from './create.js';

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

async function creditParent(tx: StoreWriter, childId: TaskId, entry: NonNullable<TaskChange['credit']>, now: number): Promise<boolean> {
  const child = await tx.lockTask(childId);
  if (!child || child.parent_id === null) return false;
  if (!(await tx.markCredited(child.id))) return false;
  const parent = await tx.addChildResult(child.parent_id, changes.childResultLine(entry));
  if (!parent || !changes.parentReady(parent)) return false;
  await apply(tx, [changes.resumeParent(parent, now)], now);
  return true;
}
