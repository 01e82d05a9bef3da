import { TASK_ACTION_SPECS, type BulkBatchResult, type Task, type TaskId } from '@taskmill/contracts';
import * as changes from '../changes.js';
import type { TaskChange } from '../changes.js';
import type { Condition, BulkSelection } from '../filters.js';
import type { StoreWriter } from '../statements.js';
import { apply } from './apply.js';
import { keyToRetake } from './manual-control.js';

/* Bulk operator actions (docs/behaviour.md#bulk-actions): one batch, one transaction. */

/** How many tasks a bulk selection matches now (the sum of the per tag/name/status counts). */
export async function countBulkTasks(reader: Pick<StoreWriter, 'selectTaskStats'>, selection: BulkSelection): Promise<number> {
  const stats = await reader.selectTaskStats(selection.conditions);
  return stats.reduce((sum, stat) => sum + Number(stat.count), 0);
}

/** The per-task change of the action, or null when the task is skipped; `taken` holds the unique keys this batch took back. */
async function changeOf(tx: StoreWriter, selection: BulkSelection, task: Task, reason: string | undefined, taken: Set<string>, now: number): Promise<TaskChange | null> {
  const { action } = selection;
  if (!selection.statuses.includes(task.status)) return null;
  if (action === 'delete') return null;
  if (!TASK_ACTION_SPECS[action].allows(task)) return null;
  if (action === 'pause') return changes.pause(task, now);
  if (action === 'cancel') return changes.cancel(task, reason ?? 'Task cancelled', now);
  // retry and resume take a released unique key back, as retryTask/resumeTask do; a key held by
  // another task, or already taken back by an earlier task of this batch, skips the task
  const key = await keyToRetake(tx, task);
  if (typeof key === 'object' && key !== null) return null;
  if (key !== null) {
    const slot = `${task.name}\u0000${key}`;
    if (taken.has(slot)) return null;
    taken.add(slot);
  }
  const change = action === 'retry' ? changes.retry(task, now) : changes.resume(task, reason ?? 'manual', now);
  return changes.withKey(change, key);
}

/** The change with `bulk: true` in its events' metadata, so the audit trail tells a bulk run from a per-task call. */
function markedBulk(change: TaskChange): TaskChange {
  return { ...change, events: change.events.map((event) => ({ ...event, metadata: { ...(event.metadata ?? {}), bulk: true } })) };
}

/**
 * One batch of a bulk action: the first `limit` matching ids after the cursor (keyset paging by
 * id, so a batch never re-reads what earlier ones took), locked and re-checked, then each task
 * changed by its per-task rule (or deleted with its audit rows) in this one transaction.
 */
export async function bulkActionBatch(
  tx: StoreWriter,
  selection: BulkSelection,
  batch: { after: TaskId; limit: number; reason: string | undefined },
  now: number,
): Promise<BulkBatchResult> {
  const after: Condition = { kind: 'cmp', column: 'id', op: '>=', value: batch.after + 1 };
  const ids = await tx.selectTaskIds([...selection.conditions, after], batch.limit);
  if (ids.length === 0) return { changed: [], skipped: [], next: null };
  const next = ids.length < batch.limit ? null : ids[ids.length - 1];
  const tasks = await tx.lockTasks(ids);
  const skipped: TaskId[] = ids.filter((id) => !tasks.some((task) => task.id === id));
  if (selection.action === 'delete') {
    const gone: TaskId[] = [];
    for (const task of tasks) {
      // a paused workflow child is still awaited by its parent: deleting it would strand the parent
      const deletable = selection.statuses.includes(task.status) && !(task.status === 'paused' && task.parent_id !== null);
      (deletable ? gone : skipped).push(task.id);
    }
    if (gone.length > 0) await tx.deleteTasksWithAudit(gone);
    return { changed: gone, skipped: skipped.sort((a, b) => a - b), next };
  }
  const list: TaskChange[] = [];
  const taken = new Set<string>();
  for (const task of tasks) {
    const change = await changeOf(tx, selection, task, batch.reason, taken, now);
    if (change) list.push(markedBulk(change));
    else skipped.push(task.id);
  }
  const changed: TaskId[] = [];
  if (list.length > 0) {
    const { applied } = await apply(tx, list, now);
    list.forEach((change, i) => (applied[i] ? changed : skipped).push(change.task_id));
  }
  return { changed, skipped: skipped.sort((a, b) => a - b), next };
}
