import { DuplicateTaskError, isScheduleTask, StoreError, type NewTask, type Task } from '@taskmill/contracts';
import * as changes from '../changes.js';
import type { StoreWriter } from '../statements.js';
import { apply } from './apply.js';
import { eventsOnly } from './create.js';

/* Managed schedules (docs/behaviour.md#schedules): create or update in place, remove. */

/** How often an upsert is tried when its key's holder goes away between the insert and the lock. */
const UPSERT_TRIES = 3;

/**
 * `schedule()`: insert the schedule's row, or update the row holding `(name, key)` in place. The
 * UNIQUE index decides which (a concurrent insert of the same key is waited for), then the holder
 * is locked and re-checked, so of several concurrent calls one inserts and the others update the
 * same row, in some order: one row per key, the last call's definition. A key held by a task that
 * is not a schedule is a DuplicateTaskError, unless its `period` scope has ended (it is released).
 */
export async function upsertSchedule(tx: StoreWriter, task: NewTask, now: number): Promise<{ task: Task; created: boolean }> {
  const key = task.unique_key!;
  for (let attempt = 1; ; attempt++) {
    const holder = await tx.selectUniqueHolder(task.name, key);
    if (holder === null) {
      const row = changes.taskInsert(task, now);
      const id = await tx.insertUniqueTask(row);
      if (id !== null) {
        // the event and the wake-up of a created task, as createTasks writes them
        if (row.next_run_time <= now) await tx.wake();
        await tx.applyChanges([eventsOnly(id, [changes.createdEvent(id, row, now)])]);
        return { task: (await tx.lockTask(id))!, created: true };
      }
    } else {
      const locked = await tx.lockTask(holder);
      if (locked !== null && (await tx.selectUniqueHolder(task.name, key)) === holder) {
        if (!isScheduleTask(locked)) {
          // a one-off task whose `period` scope has ended holds the key no longer (as for createTasks)
          if (await tx.releaseExpiredUnique(task.name, key, now)) continue;
          throw new DuplicateTaskError(task.name, key, holder);
        }
        const change = changes.updateSchedule(locked, task, now);
        if (change !== null) await apply(tx, [change], now);
        return { task: (await tx.lockTask(holder))!, created: false };
      }
    }
    if (attempt >= UPSERT_TRIES) throw new StoreError(`Could not upsert schedule ${task.name} (${key}): its key stays held by a task this transaction cannot see`);
  }
}

/** `unschedule()`: remove the schedule holding `(name, key)`; false when none does. */
export async function removeSchedule(tx: StoreWriter, name: string, key: string, now: number): Promise<boolean> {
  const holder = await tx.selectUniqueHolder(name, key);
  if (holder === null) return false;
  const task = await tx.lockTask(holder);
  if (task === null || !isScheduleTask(task) || (await tx.selectUniqueHolder(name, key)) !== holder) return false;
  await apply(tx, [changes.removeSchedule(task, now)], now);
  return true;
}
