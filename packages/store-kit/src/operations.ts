import {
  canRetry,
  canTransition,
  DuplicateTaskError,
  InvalidTransitionError,
  NotOwnerError,
  parseTaskId,
  StoreError,
  TaskNotFoundError,
  type ClaimRequest,
  type Fence,
  type FinishItem,
  type FinishOutcome,
  type FinishResult,
  type NewTask,
  type PurgeInput,
  type PurgeResult,
  type RecoveredTask,
  type RecoverTasksInput,
  type Task,
  type TaskId,
  type TaskNoteInput,
  type TaskStatus,
  type TimedOutTask,
} from '@taskmill/contracts';
import * as changes from './changes.js';
import type { TaskInsert } from './rows.js';
import type { TaskChange } from './changes.js';
import { clusterLimitedNames, narrowPlan, pickClaims, planClaim, type ClaimPlan } from './claim-order.js';
import type { StoreWriter } from './statements.js';
import { checkStatusList } from './filters.js';
import { holdsFence } from './fence.js';
import { call, pause, runSteps, type Steps } from './steps.js';
import { classifyTimeout } from './timeouts.js';

/*
 * Every write operation of the Store contract, once, over a {@link StoreWriter} (one
 * transaction). The row each decision rests on is read (and locked) inside that transaction, so a
 * decision and the writes it leads to are atomic on every dialect.
 */

/**
 * Apply changes and what follows from them: a change whose task reached a final status as a child
 * credits its parent exactly once (guarded by the child's `parent_credited` flag), which resumes
 * the parent when it was the last outstanding child; any change that made a task claimable wakes
 * claimers. Returns whether each change applied.
 */
export async function apply(tx: StoreWriter, list: TaskChange[], now: number): Promise<{ applied: boolean[]; event_ids: number[] }> {
  const result = await tx.applyChanges(list);
  let due = false;
  for (let i = 0; i < list.length; i++) {
    if (!result.applied[i]) continue;
    const c = list[i];
    due ||= c.due;
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

/** Insert top-level tasks with their `task_created` events; ids in input order. */
export function createTasks(tx: StoreWriter, tasks: NewTask[], now: number): Promise<TaskId[]> {
  return runSteps(tx, createTaskSteps(tasks, now));
}

/** Writer methods {@link createTaskSteps} calls: what a synchronous writer must provide. */
export const CREATE_TASK_METHODS = [
  'insertTasks',
  'insertUniqueTask',
  'selectUniqueHolder',
  'releaseExpiredUnique',
  'applyChanges',
  'wake',
] as const satisfies readonly (keyof StoreWriter)[];

/** How often a unique insert is tried when its key's holder goes away in between (released, deleted). */
const UNIQUE_INSERT_TRIES = 3;

/**
 * Rows per writer call of a large write, with a turn of the event loop between two calls (see
 * steps.ts `pause`): every chunk costs the same, so a batch costs time linear in its size, and no
 * stretch of it holds the event loop for longer than one chunk takes. All chunks are written in
 * the caller's one transaction: the batch still commits or rolls back whole.
 */
export const WRITE_CHUNK = 1000;

/**
 * {@link createTasks} as a step program (see steps.ts), so that it also runs inside an
 * application's synchronous transaction (`runStepsSync`) with the same rules.
 *
 * Unique tasks first, one by one (see {@link insertUnique}); a duplicate of an earlier task of the
 * same call gets that task's id. Then the plain tasks in multi-row inserts of {@link WRITE_CHUNK}
 * rows. Only inserted tasks get a `task_created` event, in input order. A duplicate with
 * `on_duplicate: 'error'` throws before any plain row.
 */
export function* createTaskSteps(tasks: NewTask[], now: number): Steps<TaskId[]> {
  if (tasks.length === 0) return [];
  // rows are built chunk by chunk, as they are written: building 100,000 at once is a stretch of
  // the event loop of its own
  const rows: TaskInsert[] = new Array(tasks.length);
  const rowOf = (i: number) => (rows[i] ??= changes.taskInsert(tasks[i], now));
  const ids: TaskId[] = new Array(tasks.length);
  const isCreated: boolean[] = new Array(tasks.length).fill(false);
  const inCall = new Map<string, TaskId>();
  const plain: number[] = [];
  let uniqueTried = 0;
  for (let i = 0; i < tasks.length; i++) {
    if ((tasks[i].unique_key ?? null) === null) {
      plain.push(i);
      continue;
    }
    const row = rowOf(i);
    const slot = row.unique_slot!;
    const key = JSON.stringify([row.name, slot]);
    const earlier = inCall.get(key);
    if (earlier === undefined && ++uniqueTried % WRITE_CHUNK === 0) yield* pause();
    const { id, inserted } = earlier !== undefined ? { id: earlier, inserted: false } : yield* insertUnique(row, slot, now);
    if (!inserted && tasks[i].on_duplicate === 'error') throw new DuplicateTaskError(row.name, row.unique_key ?? slot, id);
    ids[i] = id;
    inCall.set(key, id);
    if (inserted) isCreated[i] = true;
  }
  for (let start = 0; start < plain.length; start += WRITE_CHUNK) {
    if (start > 0) yield* pause();
    const chunk = plain.slice(start, start + WRITE_CHUNK);
    const chunkIds = yield* call('insertTasks', chunk.map(rowOf));
    chunk.forEach((i, k) => {
      ids[i] = chunkIds[k];
      isCreated[i] = true;
    });
  }
  const created: number[] = [];
  for (let i = 0; i < tasks.length; i++) if (isCreated[i]) created.push(i);
  // the wake-up before the events, not after: it takes effect at commit either way, and a store
  // that sends it without waiting (PostgreSQL) gets its answer together with the events'
  if (created.some((i) => rows[i].next_run_time <= now)) yield* call('wake');
  yield* createdEvents(created.map((i) => ids[i]), created.map((i) => rows[i]), now);
  return ids;
}

/** The `task_created` events of inserted rows, in their order, {@link WRITE_CHUNK} tasks per writer call. */
function* createdEvents(ids: readonly TaskId[], rows: readonly TaskInsert[], now: number): Steps<void> {
  for (let start = 0; start < ids.length; start += WRITE_CHUNK) {
    if (start > 0) yield* pause();
    const list: TaskChange[] = [];
    for (let i = start; i < Math.min(start + WRITE_CHUNK, ids.length); i++) list.push(eventsOnly(ids[i], [changes.createdEvent(ids[i], rows[i], now)]));
    yield* call('applyChanges', list);
  }
}

/** Insert child rows with their `task_created` events, in chunks; ids in input order. */
function* insertChildren(rows: readonly TaskInsert[], now: number): Steps<TaskId[]> {
  const ids: TaskId[] = [];
  for (let start = 0; start < rows.length; start += WRITE_CHUNK) {
    if (start > 0) yield* pause();
    for (const id of yield* call('insertTasks', rows.slice(start, start + WRITE_CHUNK))) ids.push(id);
  }
  yield* createdEvents(ids, rows, now);
  return ids;
}

/**
 * Insert one unique task, race-free: the store's UNIQUE index over `(name, unique_slot)` decides
 * (a concurrent holder's transaction is waited for), never a read before the write. When the key
 * is held: a `period` holder whose `unique_until <= now` is released (compare-and-set) and the
 * insert tried again; otherwise the holder's id is the answer.
 */
function* insertUnique(row: TaskInsert, slot: string, now: number): Steps<{ id: TaskId; inserted: boolean }> {
  for (let attempt = 1; ; attempt++) {
    const id = yield* call('insertUniqueTask', row);
    if (id !== null) return { id, inserted: true };
    const released = yield* call('releaseExpiredUnique', row.name, slot, now);
    const holder = released ? null : yield* call('selectUniqueHolder', row.name, slot);
    if (holder !== null) return { id: holder, inserted: false };
    if (attempt >= UNIQUE_INSERT_TRIES) {
      throw new StoreError(`Could not insert unique task ${row.name} (${slot}): its key stays held by a task this transaction cannot see`);
    }
  }
}

/** A change that only inserts events (the row already carries `last_event_*`). */
function eventsOnly(id: TaskId, drafts: TaskChange['events']): TaskChange {
  return { task_id: id, patch: {}, guard: null, close_attempt: null, open_attempt: null, events: drafts, credit: null, due: false };
}

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

/** Refresh the tasks these fences still hold; the ids of those that no longer hold. */
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

/** Read a task for a manual control and check the transition; throws before writing anything. */
async function controlled(tx: StoreWriter, taskId: unknown, to: TaskStatus): Promise<Task> {
  const id = parseTaskId(taskId);
  const task = id === null ? null : await tx.lockTask(id);
  if (!task) throw new TaskNotFoundError(taskId);
  if (!canTransition(task.status, to)) throw new InvalidTransitionError(task.id, task.status, to, task.worker_id);
  return task;
}

/** `pauseTask` (docs/behaviour.md#manual-control). */
export async function pauseTask(tx: StoreWriter, taskId: unknown, now: number): Promise<Task> {
  const task = await controlled(tx, taskId, 'paused');
  await apply(tx, [changes.pause(task, now)], now);
  return (await tx.lockTask(task.id))!;
}

/**
 * An operator brings a task back to `pending` (`retryTask`, `resumeTask`): a unique task of scope
 * `pending` or `unfinished` takes its key back when its scope had released it. Another task
 * holding the key now is a `DuplicateTaskError`, thrown before anything is written. Returns the
 * key to set, or null (no key, a `period` key, or still held). The UNIQUE index still decides: an
 * enqueue racing between this read and the update makes the update fail (a `StoreError`).
 */
async function retakeKey(tx: StoreWriter, task: Task): Promise<string | null> {
  if (task.unique_key === null || (task.unique_scope !== 'pending' && task.unique_scope !== 'unfinished')) return null;
  const holder = await tx.selectUniqueHolder(task.name, task.unique_key);
  if (holder === task.id) return null;
  if (holder !== null) throw new DuplicateTaskError(task.name, task.unique_key, holder);
  return task.unique_key;
}

/** `resumeTask` (docs/behaviour.md#manual-control). */
export async function resumeTask(tx: StoreWriter, taskId: unknown, resumeReason: string | undefined, now: number): Promise<Task> {
  const task = await controlled(tx, taskId, 'pending');
  await apply(tx, [changes.withKey(changes.resume(task, resumeReason ?? 'manual', now), await retakeKey(tx, task))], now);
  return (await tx.lockTask(task.id))!;
}

/** `cancelTask` (docs/behaviour.md#manual-control, #timeouts). */
export async function cancelTask(tx: StoreWriter, taskId: unknown, reason: string | undefined, now: number): Promise<Task> {
  const task = await controlled(tx, taskId, 'permanently_failed');
  await apply(tx, [changes.cancel(task, reason ?? 'Task cancelled', now)], now);
  return (await tx.lockTask(task.id))!;
}

/** `retryTask`: a failed, timed-out or permanently failed task runs again now (see changes.retry). */
export async function retryTask(tx: StoreWriter, taskId: unknown, now: number): Promise<Task> {
  const id = parseTaskId(taskId);
  const task = id === null ? null : await tx.lockTask(id);
  if (!task) throw new TaskNotFoundError(taskId);
  if (!canRetry(task)) throw new InvalidTransitionError(task.id, task.status, 'pending', task.worker_id);
  await apply(tx, [changes.withKey(changes.retry(task, now), await retakeKey(tx, task))], now);
  return (await tx.lockTask(task.id))!;
}

/** The timeout sweep (docs/behaviour.md#maintenance): safe when every worker runs it at once (guarded changes). */
export async function sweepTimedOutTasks(
  tx: StoreWriter,
  input: { now: number; heartbeat_timeout_ms: number; limit: number },
): Promise<TimedOutTask[]> {
  if (!(input.limit > 0)) return [];
  const candidates = await tx.timedOutCandidates(input.now, input.now - input.heartbeat_timeout_ms, Math.floor(input.limit));
  const out: TimedOutTask[] = [];
  for (const task of candidates) {
    const type = classifyTimeout(task, input.now, input.heartbeat_timeout_ms);
    if (!type) continue;
    const { applied } = await apply(tx, [changes.timeOut(task, type, input.now)], input.now);
    if (applied[0]) out.push({ task_id: task.id, worker_id: task.worker_id ?? '', attempt: task.attempt, timeout_type: type });
  }
  return out;
}

/** Worker recovery (docs/behaviour.md#recovery): running tasks of dead/superseded workers back to `pending`. */
export async function recoverWorkerTasks(tx: StoreWriter, input: RecoverTasksInput): Promise<RecoveredTask[]> {
  if (input.worker_ids.length === 0 || !(input.limit > 0)) return [];
  const tasks = await tx.runningTasksOf(input.worker_ids.map(String), Math.floor(input.limit));
  const recovered: RecoveredTask[] = [];
  for (const task of tasks) {
    const recovery = { reason: 'worker_unavailable' as const, by_worker_id: input.by_worker_id, by_pod_id: input.by_pod_id };
    const { applied } = await apply(tx, [changes.requeue(task, recovery, input.now)], input.now);
    if (applied[0]) recovered.push({ task_id: task.id, worker_id: task.worker_id ?? '', attempt: task.attempt });
  }
  return recovered;
}

/** One retention batch (docs/behaviour.md#retention). */
export async function purgeExpiredTasks(tx: StoreWriter, input: PurgeInput): Promise<PurgeResult> {
  const statuses = checkStatusList(input.statuses);
  const limit = Math.floor(Number(input.limit));
  if (statuses.length === 0 || !(limit > 0)) return { tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0, has_more: false };
  if (input.exclusive === true && !(await tx.tryLockRetention())) {
    return { tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0, has_more: false, busy: true };
  }
  const ids = await tx.selectExpiredTaskIds(statuses, input.before, limit);
  const counts = ids.length > 0 ? await tx.deleteTasksWithAudit(ids) : { tasks: 0, events: 0, attempts: 0 };
  return { tasks_deleted: counts.tasks, events_deleted: counts.events, attempts_deleted: counts.attempts, has_more: ids.length === limit };
}
