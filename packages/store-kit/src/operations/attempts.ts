import {
  NotOwnerError,
  parseTaskId,
  TaskNotFoundError,
  type ClaimRequest,
  type Fence,
  type FinishItem,
  type FinishOutcome,
  type FinishResult,
  type Task,
  type TaskId,
  type TaskNoteInput,
} from '@taskmill/contracts';
import * as changes from '../changes.js';
import type { TaskChange } from '../changes.js';
import { clusterLimitedNames, narrowPlan, pickClaims, planClaim, type ClaimPlan } from '../claim-order.js';
import type { StoreWriter } from '../statements.js';
import { holdsFence } from '../fence.js';
import { runSteps } from '../step-programs.js';
import { apply } from './apply.js';
import { insertChildren } from './create.js';

/*
 * A worker's operations on its attempts: claiming, finishing, heartbeats and notes
 * (docs/behaviour.md#claiming, #fencing).
 */

/** Claim a batch (docs/behaviour.md#claiming); see `TaskStore.claimTasks`. */
export async function claimTasks(tx: StoreWriter, request: ClaimRequest): Promise<Task[]> {
  const planned = planClaim(request);
  if (!planned) return [];
  let candidates: Task[];
  let plan: ClaimPlan | null = planned;
  if (clusterLimitedNames(planned, request.cluster_limits).length === 0) {
    // independent reads, sent together (one round trip where the driver pipelines), in this
    // order: the worker's row is locked before the candidates, as when awaited one by one, and a
    // refused worker's locked candidates are released with its transaction
    const [may, found] = await Promise.all([tx.workerMayClaim(planned.worker_id), tx.claimCandidates(planned)]);
    if (!may) return [];
    candidates = found;
  } else {
    if (!(await tx.workerMayClaim(planned.worker_id))) return [];
    plan = await withClusterLimits(tx, planned, request.cluster_limits);
    if (!plan) return [];
    candidates = await tx.claimCandidates(plan);
  }
  const picked = pickClaims(candidates, plan);
  if (picked.length === 0) return [];
  const list = picked.map((task) => changes.claim(task, plan.worker_id, plan.now));
  const { applied } = await tx.applyChanges(list);
  const ids = picked.filter((_, i) => applied[i]).map((task) => task.id);
  const byId = new Map((await tx.lockTasks(ids)).map((task) => [task.id, task]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/**
 * Cluster-wide limits: lock the limited names (so claimers of one name run one after another
 * until commit), then count what already runs and cap the plan by the room left. The count is
 * read after the lock, so it includes every claim committed by an earlier holder.
 */
async function withClusterLimits(tx: StoreWriter, plan: ClaimPlan, limits: Record<string, number> | undefined): Promise<ClaimPlan | null> {
  const limited = clusterLimitedNames(plan, limits);
  if (limited.length === 0) return plan;
  await tx.lockClaimNames(limited);
  return narrowPlan(plan, limits!, await tx.countRunning(limited));
}

/** Apply how an attempt ended, fenced (see `FinishOutcome`). */
export async function finishAttempt(tx: StoreWriter, fence: Fence, outcome: FinishOutcome, now: number): Promise<FinishResult> {
  const id = parseTaskId(fence.task_id);
  const task = id === null ? null : await tx.lockTask(id);
  if (!task) return { applied: false, task: null, child_ids: [] };
  if (!holdsFence(task, fence)) return { applied: false, task, child_ids: [] };

  let childIds: TaskId[] = [];
  if (outcome.kind === 'spawned') {
    const rows = outcome.children.map((child) => changes.childInsert(task, child, now));
    childIds = await runSteps(tx, insertChildren(rows, now));
    const names = outcome.children.map((child) => child.name);
    await apply(tx, [changes.spawn(task, childIds, names, outcome.context, now)], now);
    if (childIds.length > 0) await tx.wake();
  } else {
    await apply(tx, [outcomeChange(task, fence, outcome, now)], now);
  }
  return { applied: true, task: await tx.lockTask(task.id), child_ids: childIds };
}

/** The one change an outcome other than `spawned` makes to the task it finishes. */
function outcomeChange(task: Task, fence: Fence, outcome: Exclude<FinishOutcome, { kind: 'spawned' }>, now: number): TaskChange {
  switch (outcome.kind) {
    case 'completed':
      return changes.complete(task, outcome.result, now);
    case 'rescheduled':
      return changes.reschedule(task, outcome.result, outcome.next_run_time, now);
    case 'failed':
      return changes.fail(task, outcome.status, outcome.error, outcome.timeout_type, now);
    case 'suspended':
      return changes.suspend(task, outcome.reason, outcome.metadata ?? null, outcome.context, now);
    case 'interrupted':
      return changes.requeue(task, { reason: 'shutdown_timeout', by_worker_id: fence.worker_id, by_pod_id: outcome.by_pod_id ?? null }, now);
  }
}

/**
 * Several outcomes in the caller's one transaction; results in input order. Each task's rows end
 * up exactly as {@link finishAttempt} one by one in task id order leaves them; only the global
 * order of event ids across tasks may differ. The tasks are locked in one statement (by id), the
 * changes applied together (multi-row inserts of their events), and read back in one statement;
 * `spawned` outcomes, which insert children, then go one by one. A group naming one task twice
 * is written one by one.
 */
export async function finishAttempts(tx: StoreWriter, items: FinishItem[], now: number): Promise<FinishResult[]> {
  const order = items.map((_, i) => i).sort((a, b) => Number(items[a].fence.task_id) - Number(items[b].fence.task_id) || a - b);
  const results: FinishResult[] = new Array(items.length);
  const ids = items.map((item) => parseTaskId(item.fence.task_id));
  if (new Set(ids).size < ids.length) {
    for (const i of order) results[i] = await finishAttempt(tx, items[i].fence, items[i].outcome, now);
    return results;
  }
  const locked = new Map((await tx.lockTasks(ids.filter((id): id is TaskId => id !== null))).map((task) => [task.id, task]));
  const batch: number[] = [];
  const spawns: number[] = [];
  for (const i of order) {
    const task = ids[i] === null ? undefined : locked.get(ids[i]!);
    if (!task) results[i] = { applied: false, task: null, child_ids: [] };
    else if (!holdsFence(task, items[i].fence)) results[i] = { applied: false, task, child_ids: [] };
    else if (items[i].outcome.kind === 'spawned') spawns.push(i);
    else batch.push(i);
  }
  if (batch.length > 0) {
    const list = batch.map((i) => outcomeChange(locked.get(ids[i]!)!, items[i].fence, items[i].outcome as Exclude<FinishOutcome, { kind: 'spawned' }>, now));
    await apply(tx, list, now);
    const after = new Map((await tx.lockTasks(batch.map((i) => ids[i]!))).map((task) => [task.id, task]));
    for (const i of batch) results[i] = { applied: true, task: after.get(ids[i]!) ?? null, child_ids: [] };
  }
  for (const i of spawns) results[i] = await finishAttempt(tx, items[i].fence, items[i].outcome, now);
  return results;
}

/** Refresh the tasks these fences still hold; the ids of those that no longer hold. */
export async function heartbeatTasks(tx: StoreWriter, fences: Fence[], now: number): Promise<TaskId[]> {
  if (fences.length === 0) return [];
  const valid = fences.filter((fence) => parseTaskId(fence.task_id) !== null);
  const held = valid.length > 0 ? await tx.touchTasks(valid, now) : [];
  const kept = new Set(valid.filter((_, i) => held[i]));
  const lost = new Set<TaskId>();
  for (const fence of fences) if (!kept.has(fence)) lost.add(fence.task_id);
  return [...lost];
}

/** Write a progress/checkpoint note; with a fence the task must still be held by it. */
export async function recordTaskNote(tx: StoreWriter, taskId: unknown, fence: Fence | null, note: TaskNoteInput, now: number): Promise<number> {
  const id = parseTaskId(taskId);
  const task = id === null ? null : await tx.lockTask(id);
  if (!task) throw new TaskNotFoundError(taskId);
  if (fence && (fence.task_id !== task.id || !holdsFence(task, fence))) throw new NotOwnerError(task.id, fence.worker_id);
  const { event_ids } = await tx.applyChanges([changes.note(task, note, fence, now)]);
  return event_ids[0];
}
