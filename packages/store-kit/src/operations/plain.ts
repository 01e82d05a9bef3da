import { parseTaskId, type ClaimRequest, type FinishItem, type FinishResult, type NewTask, type Task, type TaskId } from '@taskmill/contracts';
import * as changes from '../changes.js';
import { planClaim, serialisedNames, type ClaimPlan } from '../claim-order.js';
import type { PlainCompletion, PlainPaths } from '../driver.js';
import type { TaskInsert } from '../rows-to-write.js';
import { WRITE_CHUNK } from './create.js';

/*
 * When an enqueue, a claim or a finished group takes a store's one-round-trip path
 * (docs/behaviour.md#one-round-trip), and when it goes the general way instead. The rules of what
 * an enqueue, a claim and a completion write stay in changes.ts; a store's one-statement forms
 * write the same rows, and the conformance suite `plain-paths` holds them to it.
 */

/**
 * The plan of a claim the one-statement path may take: one without per-name caps, cluster,
 * rate or per-key limits (those count and lock before they choose; see `claimBatch`). Null when
 * the claim needs the general path, or `false` when it can claim nothing at all.
 */
export function plainClaimPlan(request: ClaimRequest): ClaimPlan | null | false {
  const plan = planClaim(request);
  if (!plan) return false;
  if (Object.keys(plan.caps).length > 0 || serialisedNames(plan, request.cluster_limits).length > 0) return null;
  return plan;
}

/**
 * The rows of a `createTasks` the one-statement path may take, and whether it wakes claimers: no
 * unique key (those are inserted one by one against the unique index) and one chunk at most (a
 * larger batch is several statements in one transaction). Null for the general path.
 */
export function plainCreateRows(tasks: readonly NewTask[], now: number): { rows: TaskInsert[]; wake: boolean } | null {
  if (tasks.length === 0 || tasks.length > WRITE_CHUNK || tasks.some((task) => (task.unique_key ?? null) !== null)) return null;
  const rows = tasks.map((task) => changes.taskInsert(task, now));
  return { rows, wake: rows.some((row) => row.next_run_time <= now) };
}

/**
 * Finish a group (docs/behaviour.md#one-round-trip): in one round trip when every outcome of the
 * group is a completion and none of its tasks has a parent, else by `general`, one transaction;
 * either way all or nothing, as `finishAttempts` promises. Results in input order.
 */
export async function finishGroup(
  plain: PlainPaths,
  items: readonly FinishItem[],
  now: number,
  general: (items: FinishItem[]) => Promise<FinishResult[]>,
): Promise<FinishResult[]> {
  const ids = items.map((item) => parseTaskId(item.fence.task_id));
  const allCompleted = items.every((item) => item.outcome.kind === 'completed');
  if (!allCompleted || ids.some((id) => id === null) || new Set(ids).size < ids.length) return general([...items]);

  const completions: PlainCompletion[] = items.map((item, i) => ({
    task_id: ids[i]!,
    worker_id: item.fence.worker_id,
    attempt: item.fence.attempt,
    result: (item.outcome as { result: string | null }).result,
  }));
  const { applied, found } = await plain.complete(completions, now);
  // a child among them: the statement wrote nothing, and the general path credits its parent
  if (applied.length === 0 && found.some((task) => task.parent_id !== null)) return general([...items]);
  const after = new Map<TaskId, Task>(applied.map((task) => [task.id, task]));
  const seen = new Map<TaskId, Task>(found.map((task) => [task.id, task]));
  return items.map((_, i): FinishResult => {
    const done = after.get(ids[i]!);
    if (done) return { applied: true, task: done, child_ids: [] };
    return { applied: false, task: seen.get(ids[i]!) ?? null, child_ids: [] };
  });
}
