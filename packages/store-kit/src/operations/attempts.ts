import {
  NotOwnerError,
  parseTaskId,
  TaskNotFoundError,
  type ClaimRequest,
  type ClaimResult,
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
import {
  capName,
  clusterLimitedNames,
  narrowPlan,
  pickClaims,
  planClaim,
  roundRobin,
  serialisedNames,
  withoutNames,
  type ClaimPlan,
} from '../claim-order.js';
import type { StoreWriter } from '../statements.js';
import { holdsFence } from '../fence.js';
import { runSteps } from '../step-programs.js';
import { apply } from './apply.js';
import { insertChildren } from './create.js';
import { takeSignal } from './waits.js';

/*
 * A worker's operations on its attempts: claiming, finishing, heartbeats and notes
 * (docs/behaviour.md#claiming, #fencing).
 */

/** Where each keyed name's fair-share pass goes on from: the last key a claim of this store visited. */
export type KeyCursors = Map<string, string>;

const NOTHING: ClaimResult = { tasks: [], retry_at: null };

/**
 * Claim a batch (docs/behaviour.md#claiming, #flow-control); see `TaskStore.claimBatch`.
 *
 * Names without limits take the common path: the worker check, the paused names and the
 * candidates are independent reads sent together (one round trip where the driver pipelines), in
 * this order, so the worker's row is locked before the candidates, as when awaited one by one, and
 * a refused worker's locked candidates are released with its transaction. Only when a name of the
 * claim turns out to be paused are the candidates read again without it.
 *
 * Names with a cluster, rate or per-key limit are locked first (claimers of one name run one
 * after another until commit), then their room is counted: what runs (cluster limit, per key) and
 * what started within the window (rate limit), read after the lock so it includes every claim an
 * earlier holder committed.
 */
export async function claimBatch(tx: StoreWriter, request: ClaimRequest, cursors: KeyCursors, calledAt = performance.now()): Promise<ClaimResult> {
  const planned = planClaim(request);
  if (!planned) return NOTHING;
  const serialised = serialisedNames(planned, request.cluster_limits);
  if (serialised.length === 0) {
    const [may, paused, found] = await Promise.all([
      tx.workerMayClaim(planned.worker_id),
      tx.pausedAmong(planned.names),
      tx.claimCandidates(planned),
    ]);
    if (!may) return NOTHING;
    if (paused.length === 0) return { tasks: await claimPicked(tx, planned, pickClaims(found, planned)), retry_at: null };
    const plan = withoutNames(planned, paused);
    if (!plan) return NOTHING;
    return { tasks: await claimPicked(tx, plan, pickClaims(await tx.claimCandidates(plan), plan)), retry_at: null };
  }

  // sent together: the worker's row, the paused names, and the locks of every serialised name (a
  // paused one is locked for nothing until commit, which costs less than another round trip)
  const [may, paused] = await Promise.all([tx.workerMayClaim(planned.worker_id), tx.pausedAmong(planned.names), tx.lockClaimNames(serialised)]);
  if (!may) return NOTHING;
  const unpaused = withoutNames(planned, paused);
  if (!unpaused) return NOTHING;
  // the claim starts its tasks when it commits, not when it was asked for: waiting for a
  // connection and for the lock behind other claimers of the name can take longer than a rate
  // window allows for, so the time this claim records and judges windows by moves on by the time
  // since the store was asked (docs/behaviour.md#flow-control)
  let plan: ClaimPlan | null = { ...unpaused, now: unpaused.now + Math.floor(performance.now() - calledAt) };
  const now = plan.now;

  // every room, read together after the locks: what runs, what started in each window, what runs per key
  const clustered = clusterLimitedNames(plan, request.cluster_limits);
  const rated = Object.entries(plan.rates);
  const keyed = Object.keys(plan.keys);
  const [running, windows, runningByKey] = await Promise.all([
    clustered.length > 0 ? tx.countRunning(clustered) : Promise.resolve({}),
    Promise.all(rated.map(([name, rate]) => (rate.max > 0 ? tx.countStarts(name, now - rate.per_ms, rate.max) : Promise.resolve({ count: 0, max_th_latest: null })))),
    Promise.all(keyed.map((name) => tx.countRunningByKey(name))),
  ]);
  if (clustered.length > 0) {
    plan = narrowPlan(plan, request.cluster_limits!, running);
    if (!plan) return NOTHING;
  }

  let retryAt: number | null = null;
  const holdUntil = (time: number) => {
    retryAt = retryAt === null ? time : Math.min(retryAt, time);
  };
  for (const [i, [name, rate]] of rated.entries()) {
    // starts in the window (now - per, now]; when `max` or more, it reopens as soon as the
    // max-th latest of them leaves it (max - 1 remain), at that start + per
    const { count, max_th_latest } = windows[i];
    const room = rate.max - count;
    if (room <= 0 && max_th_latest !== null) holdUntil(Math.max(now + 1, max_th_latest + rate.per_ms));
    plan = capName(plan!, name, room);
    if (!plan) return { tasks: [], retry_at: retryAt };
  }

  const current: ClaimPlan = plan!;
  const plain = withoutNames(current, keyed);
  const [turns, candidates] = await Promise.all([
    Promise.all(keyed.filter((name) => current.names.includes(name)).map((name) => keyedTurns(tx, current, name, runningByKey[keyed.indexOf(name)], cursors))),
    plain ? tx.claimCandidates(plain) : Promise.resolve([]),
  ]);
  for (const { exhausted } of turns) if (exhausted) holdUntil(now);
  const picked = pickClaims(candidates, current, turns.map((turn) => turn.tasks));
  if (picked.length >= current.limit) retryAt = null; // a full batch: the loop claims again at once anyway
  // recorded as late as it can be (before the rows are written): a start later than the `now` the
  // windows were counted at only makes them stricter
  const startedAt = Math.max(now, request.now + Math.floor(performance.now() - calledAt));
  return { tasks: await claimPicked(tx, { ...current, now: startedAt }, picked), retry_at: retryAt };
}

/** Claim the picked candidates (guarded by the status they were read with); the claimed rows in pick order. */
async function claimPicked(tx: StoreWriter, plan: ClaimPlan, picked: Task[]): Promise<Task[]> {
  if (picked.length === 0) return [];
  const list = picked.map((task) => changes.claim(task, plan.worker_id, plan.now));
  const { applied } = await tx.applyChanges(list);
  const ids = picked.filter((_, i) => applied[i]).map((task) => task.id);
  const byId = new Map((await tx.lockTasks(ids)).map((task) => [task.id, task]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/**
 * Keys a pass visits beyond the batch size. Saturated keys are not added: after a round robin they
 * sit just behind the cursor, met again only when the pass comes round, and a pass that meets them
 * before its batch is full is claimed again at once (measured on a 10,000-key drain: budgeting
 * for them read 10 keys more a claim for nothing).
 */
const EXTRA_KEYS = 2;

/**
 * A keyed name's candidates in fair-share order (docs/behaviour.md#flow-control): the next keys after
 * the name's cursor in key order, wrapping round to the first key, round robin, each key limited by
 * its room (`max_concurrent_per_key` minus its running tasks). The name's tasks without a key take
 * one turn where the pass wraps, as if they had a key after the last. A pass visits at most
 * `limit` + EXTRA_KEYS keys, one index probe each, so its cost does not grow with the queue; `exhausted` when it stopped before coming round to where it began with the batch not
 * full (more keys may have due tasks: the caller claims again at once rather than after a poll).
 */
async function keyedTurns(
  tx: StoreWriter,
  plan: ClaimPlan,
  name: string,
  running: Record<string, number>,
  cursors: KeyCursors,
): Promise<{ tasks: Task[]; exhausted: boolean }> {
  const perKeyLimit = plan.keys[name];
  const want = Math.min(plan.limit, plan.caps[name] ?? Infinity);
  const budget = want + EXTRA_KEYS;
  const perKey = Math.min(perKeyLimit, want);
  const start = cursors.get(name) ?? null;
  const turn = (key: string, rows: Task[]) => ({ room: perKeyLimit - (running[key] ?? 0), tasks: rows.filter((task) => task.concurrency_key === key) });

  const first = await tx.keyedCandidates(name, plan.now, start, budget, perKey);
  const turns = first.keys.map((key) => turn(key, first.tasks));
  let visited = first.keys;
  const wrapped = first.keys.length < budget;
  if (wrapped) {
    // came past the last key: the unkeyed tasks' turn, then the first keys up to where this pass
    // began (both read together)
    const [unkeyed, again] = await Promise.all([
      tx.unkeyedCandidates(name, plan.now, want),
      start === null ? Promise.resolve(null) : tx.keyedCandidates(name, plan.now, null, budget - first.keys.length, perKey),
    ]);
    turns.push({ room: want, tasks: unkeyed });
    if (again) {
      // in the database's key order, up to the first key the first part visited (no comparison
      // here: the collation decides the order, not JavaScript)
      const seen = new Set(first.keys);
      const stop = again.keys.findIndex((key) => seen.has(key));
      const more = stop < 0 ? again.keys : again.keys.slice(0, stop);
      turns.push(...more.map((key) => turn(key, again.tasks)));
      visited = [...visited, ...more];
    }
  }
  const tasks = roundRobin(turns);
  // the next pass starts after the last key served, or the last visited when the batch did not fill
  const served = tasks.slice(0, want).filter((task) => task.concurrency_key !== null);
  const last = tasks.length > want && served.length > 0 ? served[served.length - 1].concurrency_key! : visited[visited.length - 1];
  if (last !== undefined) cursors.set(name, last);
  else cursors.delete(name);
  return { tasks, exhausted: !wrapped && tasks.length < want };
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
  } else if (outcome.kind === 'wait_signal') {
    // under the task's row lock, so a signal sent meanwhile is either seen here or sees the wait
    const ready = await takeSignal(tx, task.id, outcome.name, now);
    await apply(tx, [changes.waitSignal(task, outcome.name, outcome.timeout_at, outcome.context, ready, now)], now);
  } else {
    await apply(tx, [outcomeChange(task, fence, outcome, now)], now);
  }
  return { applied: true, task: await tx.lockTask(task.id), child_ids: childIds };
}

/** The one change an outcome other than `spawned` makes to the task it finishes. */
function outcomeChange(task: Task, fence: Fence, outcome: Exclude<FinishOutcome, { kind: 'spawned' | 'wait_signal' }>, now: number): TaskChange {
  switch (outcome.kind) {
    case 'completed':
      return changes.complete(task, outcome.result, now);
    case 'rescheduled':
      return changes.reschedule(task, outcome.result, outcome.next_run_time, now, outcome.basis);
    case 'failed':
      return changes.fail(task, outcome.status, outcome.error, outcome.timeout_type, now, outcome.permanent === true);
    case 'suspended':
      return changes.suspend(task, outcome.reason, outcome.metadata ?? null, outcome.context, now);
    case 'sleep':
      return changes.sleep(task, outcome.wake_at, outcome.context, now);
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
    else if (items[i].outcome.kind === 'spawned' || items[i].outcome.kind === 'wait_signal') spawns.push(i);
    else batch.push(i);
  }
  if (batch.length > 0) {
    const list = batch.map((i) => outcomeChange(locked.get(ids[i]!)!, items[i].fence, items[i].outcome as Exclude<FinishOutcome, { kind: 'spawned' | 'wait_signal' }>, now));
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
