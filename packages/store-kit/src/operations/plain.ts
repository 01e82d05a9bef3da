import { parseTaskId, type ClaimRequest, type FinishItem, type FinishResult, type Task, type TaskId } from '@taskmill/contracts';
import { planClaim, serialisedNames, type ClaimPlan } from '../claim-order.js';
import type { PlainCompletion, PlainPaths } from '../driver.js';
import { holdsFence } from '../fence.js';

/*
 * When a claim or a finished group takes a store's one-round-trip path (docs/behaviour.md#one-round-trip),
 * and how what it could not do goes on to the general path. The rules of what a claim and a
 * completion write stay in changes.ts; a store's one-statement forms write the same rows, and the
 * conformance suite `plain-paths` holds them to it.
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
 * Finish a group: its `completed` outcomes in one round trip when every outcome of the group is
 * one (the choice is made once per group), the rest, and the completions the one statement may
 * not make (a child credits its parent; a row another transaction changed meanwhile), by
 * `general` in one transaction. Results in input order, as `finishAttempts` gives them.
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
  const after = new Map<TaskId, Task>(applied.map((task) => [task.id, task]));
  const seen = new Map<TaskId, Task>(found.map((task) => [task.id, task]));
  const results: Array<FinishResult | undefined> = items.map((item, i) => {
    const done = after.get(ids[i]!);
    if (done) return { applied: true, task: done, child_ids: [] };
    const row = seen.get(ids[i]!);
    if (!row) return { applied: false, task: null, child_ids: [] };
    // still held as the statement saw it, but not completed: a child, or a row that changed
    // under the statement; the general path locks it and decides
    if (holdsFence(row, item.fence)) return undefined;
    return { applied: false, task: row, child_ids: [] };
  });
  const rest = items.flatMap((item, i) => (results[i] === undefined ? [i] : []));
  if (rest.length > 0) {
    const more = await general(rest.map((i) => items[i]));
    rest.forEach((i, k) => (results[i] = more[k]));
  }
  return results as FinishResult[];
}
