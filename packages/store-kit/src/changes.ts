import {
  NEW_TASK_DEFAULTS,
  planFailure,
  SWEEP_ERRORS,
  type ChildResult,
  type NewChildTask,
  type NewFlowChild,
  type NewTask,
  type ReceivedSignal,
  type Task,
  type TaskId,
  type TaskStatus,
  type TimeoutType,
} from '@taskmill/contracts';
import { encodeChildResult, parseJson } from './codec.js';
import { events, type EventDraft } from './event-drafts.js';
import type { AttemptClose, AttemptOpen, TaskGuard, TaskInsert, TaskPatch } from './rows-to-write.js';

/*
 * Every transition of a task (docs/behaviour.md#transitions, #events, #retries, #workflows), as data: the row patch, the attempt row to
 * open or close, the audit events, and what follows (credit a parent, wake claimers). Pure
 * functions of the row read inside the caller's transaction. Stores apply a change with
 * `applyChanges`; they never decide what a transition writes.
 *
 * Two rules hold for every change, so no store can drift from them:
 * - `suspend_reason` is set exactly while a task is `suspended`: a change to any other status
 *   clears it.
 * - An attempt closes by its number (`attempt = task.attempt`), never "every open attempt".
 */

/** One transition of one task row. */
export interface TaskChange {
  task_id: TaskId;
  /** Columns to set (including `last_event_*` of the last event). */
  patch: TaskPatch;
  /** When set, the change applies only if the row still matches (compare-and-set); else nothing is written. */
  guard: TaskGuard | null;
  close_attempt: AttemptClose | null;
  open_attempt: AttemptOpen | null;
  /** Events to insert, in order. */
  events: EventDraft[];
  /** The task reached a final status as a child: credit this entry to its parent. */
  credit: ChildResult | null;
  /** The task is claimable now: wake claimers (stores with cross-process wake-ups). */
  due: boolean;
  /** The task failed for good with a dead-letter target: insert this task with it (docs/behaviour.md#dead-letters). */
  dead_letter: NewTask | null;
}

function change(
  task: Task,
  patch: TaskPatch,
  drafts: EventDraft[],
  extra: Partial<Pick<TaskChange, 'guard' | 'close_attempt' | 'open_attempt' | 'credit' | 'due' | 'dead_letter'>> = {},
): TaskChange {
  const full: TaskPatch = { ...patch };
  if (full.status !== undefined && full.status !== 'suspended') {
    full.suspend_reason = null;
    // a timed or signal wait exists only while suspended (docs/behaviour.md#durable-sleep, #signals)
    if (task.wake_at !== null || full.wake_at != null) full.wake_at = null;
    if (task.awaited_signal !== null || full.awaited_signal != null) full.awaited_signal = null;
  }
  // a new signal wait starts: how the last one ended no longer applies (docs/behaviour.md#signals)
  if (full.status === 'suspended' && full.suspend_reason === 'signal' && full.received_signal === undefined && task.received_signal !== null) full.received_signal = null;
  if (full.status !== undefined && releasesUniqueKey(task, full.status)) full.unique_slot = null;
  const last = drafts[drafts.length - 1];
  if (last) {
    full.last_event_time = last.event_time;
    full.last_event_type = last.event_type;
  }
  return {
    task_id: task.id,
    patch: full,
    guard: extra.guard ?? null,
    close_attempt: extra.close_attempt ?? null,
    open_attempt: extra.open_attempt ?? null,
    events: drafts,
    credit: extra.credit ?? null,
    due: extra.due ?? false,
    dead_letter: extra.dead_letter ?? null,
  };
}

/**
 * Whether moving to `status` ends the scope of the task's unique key (its slot becomes NULL, so a
 * new task may take the key): `pending` on any status but pending (first claim, pause, cancel);
 * `unfinished` on `completed` or `permanently_failed` (cancel included); `period` never (expiry is
 * handled at the next insert, see operations.ts). Every transition is built here, so none forgets it.
 */
function releasesUniqueKey(task: Task, status: TaskStatus): boolean {
  if (task.unique_key === null) return false;
  if (task.unique_scope === 'pending') return status !== 'pending';
  if (task.unique_scope === 'unfinished') return status === 'completed' || status === 'permanently_failed';
  return false;
}

function close(task: Task, outcome: AttemptClose['outcome'], now: number, error: string | null = null): AttemptClose {
  return { task_id: task.id, attempt: task.attempt, ended_at: now, outcome, error, timeout_flag: outcome === 'timeout' };
}

/** The parent's entry for a child that reached a final status (null for a top-level task). */
function creditOf(task: Task, entry: { result: string | null } | { error: string }): ChildResult | null {
  if (task.parent_id === null) return null;
  return 'error' in entry ? { task_id: task.id, error: entry.error } : { task_id: task.id, result: parseJson(entry.result) };
}

/** The same task with a patch applied, for building later events of one change. */
function after(task: Task, patch: TaskPatch): Task {
  return { ...task, ...(patch as Partial<Task>) };
}

/** The insert row of a new top-level task. */
export function taskInsert(task: NewTask, now: number): TaskInsert {
  return {
    name: task.name,
    type: task.type,
    payload: task.payload,
    priority: task.priority,
    tag: task.tag,
    status: 'pending',
    created_at: now,
    next_run_time: task.next_run_time,
    timeout: task.timeout,
    max_retries: task.max_retries,
    retry_interval: task.retry_interval,
    cron_expr: task.cron_expr,
    cron_tz: task.cron_tz,
    root_id: null,
    parent_id: null,
    last_event_time: now,
    last_event_type: 'task_created',
    // defaults for fields a caller of an older shape of NewTask leaves out
    retry_backoff: task.retry_backoff ?? NEW_TASK_DEFAULTS.retry_backoff,
    retry_max_interval: task.retry_max_interval ?? NEW_TASK_DEFAULTS.retry_max_interval,
    retry_jitter: task.retry_jitter ?? NEW_TASK_DEFAULTS.retry_jitter,
    unique_key: task.unique_key ?? null,
    unique_scope: task.unique_key ? (task.unique_scope ?? 'unfinished') : null,
    unique_until: task.unique_key ? (task.unique_until ?? null) : null,
    unique_slot: task.unique_key ?? null,
    trace_context: task.trace_context ?? null,
    concurrency_key: task.concurrency_key ?? null,
    dead_letter: task.dead_letter ?? null,
    on_failure: null,
    suspend_reason: null,
    total_children: 0,
    children_results: null,
    keep_stage: 0,
  };
}

/** The insert row of a child created by `next()`: async, due now, in the parent's workflow. */
export function childInsert(parent: Task, child: NewChildTask, now: number): TaskInsert {
  return {
    ...taskInsert(
      { ...child, type: 'async', next_run_time: now, cron_expr: null, cron_tz: null, unique_key: null, unique_scope: null, unique_until: null },
      now,
    ),
    root_id: parent.root_id ?? parent.id,
    parent_id: parent.id,
    on_failure: child.on_failure ?? null,
  };
}

/**
 * A row of a flow (docs/behaviour.md#flows) as {@link taskInsert} or {@link childInsert} make it, but
 * a task with children is inserted `suspended` awaiting them (stage 0, an empty batch), with
 * `task_subtasks_created` as its last event.
 */
export function flowParentRow(row: TaskInsert, childCount: number): TaskInsert {
  if (childCount === 0) return row;
  return { ...row, status: 'suspended', suspend_reason: 'awaiting_subtasks', total_children: childCount, children_results: '', last_event_type: 'task_subtasks_created', keep_stage: 1 };
}

/** The insert row of a flow's child under the parent `parentId` of the flow rooted at `rootId`. */
export function flowChildInsert(rootId: TaskId, parentId: TaskId, child: NewFlowChild, now: number): TaskInsert {
  const row = taskInsert(
    { ...child.task, type: 'async', next_run_time: child.next_run_time, cron_expr: null, cron_tz: null, unique_key: null, unique_scope: null, unique_until: null },
    now,
  );
  return flowParentRow({ ...row, root_id: rootId, parent_id: parentId, on_failure: child.task.on_failure ?? null }, child.children.length);
}

/** The `task_created` event of an inserted row (to the row's status). */
export function createdEvent(id: TaskId, row: TaskInsert, now: number): EventDraft {
  return events.created({ id, root_id: row.root_id, parent_id: row.parent_id, name: row.name, type: row.type, tag: row.tag, stage: 0, worker_id: null }, row.status, now);
}

/** The `task_subtasks_created` event of a flow's parent inserted with its children. */
export function flowSubtasksEvent(id: TaskId, row: TaskInsert, childIds: TaskId[], childNames: string[], now: number): EventDraft {
  return events.flowSubtasks({ id, root_id: row.root_id, parent_id: row.parent_id, name: row.name, type: row.type, tag: row.tag, stage: 0, worker_id: null }, childIds, childNames, now);
}

/** Timeout (seconds) and attempts of a dead-letter task: the tables' defaults, as for a task enqueued without options. */
export const DEAD_LETTER_TASK = { timeout: 60, max_retries: 3, retry_interval: 0 } as const;

/**
 * The dead letter of a task that just failed for good (docs/behaviour.md#dead-letters): a top-level
 * `async` task named by its `dead_letter`, pending and due now, with the failed task's priority,
 * whose payload is `{task_id, name, payload, error, attempts, non_retryable}` (`payload` the failed
 * task's own JSON). It has no dead letter of its own, no tag, no key, and the tables' defaults
 * for timeout and attempts.
 */
export function deadLetterTask(task: Task, error: string, nonRetryable: boolean, now: number): NewTask | null {
  if (task.dead_letter === null || task.dead_letter === undefined) return null;
  const payload = { task_id: task.id, name: task.name, payload: parseJson(task.payload), error, attempts: task.attempt, non_retryable: nonRetryable };
  return {
    ...NEW_TASK_DEFAULTS,
    name: task.dead_letter,
    type: 'async',
    payload: JSON.stringify(payload),
    priority: task.priority,
    tag: null,
    next_run_time: now,
    ...DEAD_LETTER_TASK,
    cron_expr: null,
    cron_tz: null,
  };
}

/** The `task_created` event of a dead letter: `metadata.dead_letter_of` names the failed task. */
export function deadLetterCreatedEvent(id: TaskId, row: TaskInsert, failedTaskId: TaskId, now: number): EventDraft {
  const draft = createdEvent(id, row, now);
  return { ...draft, metadata: { ...draft.metadata, dead_letter_of: failedTaskId } };
}

/**
 * A due task taken by a worker: a retry candidate (`failed`/`timeout`) first goes back to
 * `pending` (retry_count + 1, stage 0, result/context/children results cleared, event
 * `task_retry_scheduled`); then `running` with a new attempt number, an open attempt row and the
 * claim events.
 */
export function claim(task: Task, workerId: string, now: number): TaskChange {
  const drafts: EventDraft[] = [];
  let patch: TaskPatch = {};
  let current = task;
  if (task.status === 'failed' || task.status === 'timeout') {
    const retryCount = task.retry_count + 1;
    patch = { retry_count: retryCount, stage: 0, result: null, context: null, children_results: null };
    drafts.push(events.retryScheduled(task, task.status, retryCount, now));
    current = after(task, { ...patch, status: 'pending' });
  }
  const attempt = task.attempt + 1;
  patch = { ...patch, status: 'running', worker_id: workerId, start_time: now, last_active_time: now, attempt };
  drafts.push(...events.claimed(current, workerId, attempt, current.retry_count, now));
  return change(task, patch, drafts, {
    guard: { status: task.status },
    open_attempt: { task_id: task.id, name: task.name, attempt, worker_id: workerId, started_at: now, due_at: task.next_run_time },
  });
}

/** An async task's handler returned: `completed`; a child is credited to its parent. */
export function complete(task: Task, result: string | null, now: number): TaskChange {
  return change(task, { status: 'completed', result, last_active_time: now }, [events.completed(task, now)], {
    close_attempt: close(task, 'completed', now),
    credit: creditOf(task, { result }),
  });
}

/**
 * A cron task's handler returned: `pending` at its next run, stage 0, retries reset. Two cases of
 * a schedule changed during the run (docs/behaviour.md#schedules): a row whose expression differs
 * from `basis` (the one the worker computed `nextRunTime` from) keeps the `next_run_time` the
 * update set from the new expression; a row removed while running (now `async`) completes.
 */
export function reschedule(
  task: Task,
  result: string | null,
  nextRunTime: number,
  now: number,
  basis?: { cron_expr: string | null; cron_tz: string | null },
): TaskChange {
  if (task.type !== 'cron') return complete(task, result, now);
  if (basis && (basis.cron_expr !== task.cron_expr || basis.cron_tz !== task.cron_tz)) nextRunTime = task.next_run_time;
  return change(
    task,
    { status: 'pending', result, next_run_time: nextRunTime, stage: 0, retry_count: 0, last_active_time: now },
    [events.cronRescheduled(task, nextRunTime, now)],
    { close_attempt: close(task, 'completed', now), due: nextRunTime <= now },
  );
}

/**
 * An attempt failed or timed out (docs/behaviour.md#retries): with attempts left the task waits in
 * `failed`/`timeout` for its backoff's delay (`retryDelayMs`: `retry_interval` when fixed); exhausted it becomes `permanently_failed`
 * (async; a child is credited) or `paused` (cron), with a second event.
 */
export function fail(task: Task, status: 'failed' | 'timeout', error: string, timeoutType: TimeoutType | undefined, now: number, nonRetryable = false): TaskChange {
  const plan = planFailure(task, now, Math.random, nonRetryable);
  const attemptClose = close(task, status, now, error);
  if (plan.kind === 'retry') {
    const retry = { retry_count: task.retry_count, next_run_time: plan.next_run_time, delay_ms: plan.delay_ms, backoff: task.retry_backoff };
    if (task.keep_stage) {
      // a flow's parent (docs/behaviour.md#flows): its retry is scheduled now, as `pending` at the
      // retry time, so that the claim (which restarts a failed task at stage 0) keeps its stage
      // and its children's results
      const retryCount = task.retry_count + 1;
      const failed = events.failed(task, status, error, retry, timeoutType, now);
      return change(
        task,
        { status: 'pending', error, last_active_time: now, next_run_time: plan.next_run_time, retry_count: retryCount },
        [failed, events.retryScheduled(task, status, retryCount, now, task.stage)],
        { close_attempt: attemptClose, due: plan.next_run_time <= now },
      );
    }
    return change(
      task,
      { status, error, last_active_time: now, next_run_time: plan.next_run_time },
      [events.failed(task, status, error, retry, timeoutType, now)],
      { close_attempt: attemptClose, due: plan.next_run_time <= now },
    );
  }
  const retry = { retry_count: task.retry_count, next_run_time: null };
  // cron tasks pause instead: they never fail for good, so never dead-letter
  const deadLetter = plan.status === 'permanently_failed' ? deadLetterTask(task, error, plan.non_retryable, now) : null;
  const how = { non_retryable: plan.non_retryable, dead_letter: deadLetter?.name ?? null };
  return change(
    task,
    { status: plan.status, error, last_active_time: now },
    [events.failed(task, status, error, retry, timeoutType, now, plan.non_retryable), events.exhausted(task, status, plan.status, error, now, how)],
    { close_attempt: attemptClose, credit: plan.status === 'permanently_failed' ? creditOf(task, { error }) : null, dead_letter: deadLetter },
  );
}

/** The maintenance sweep found a running task past its timeout or heartbeat lease (docs/behaviour.md#maintenance). */
export function timeOut(task: Task, timeoutType: 'total' | 'heartbeat', now: number): TaskChange {
  const failed = fail(task, 'timeout', SWEEP_ERRORS[timeoutType], timeoutType, now);
  return { ...failed, guard: { status: 'running', worker_id: task.worker_id ?? '', attempt: task.attempt } };
}

/** The handler suspended explicitly (`task.suspend()`): context replaced only when given. */
export function suspend(
  task: Task,
  reason: string,
  metadata: Record<string, unknown> | null,
  context: Uint8Array | null | undefined,
  now: number,
): TaskChange {
  const patch: TaskPatch = { status: 'suspended', suspend_reason: reason, children_results: '', last_active_time: now };
  if (context) patch.context = context;
  return change(task, patch, [events.suspended(task, reason, metadata, now)], { close_attempt: close(task, 'suspended', now) });
}

/** The handler returned `task.sleep()` (docs/behaviour.md#durable-sleep): `suspended` until `wake_at`. */
export function sleep(task: Task, wakeAt: number, context: Uint8Array | null | undefined, now: number): TaskChange {
  const patch: TaskPatch = { status: 'suspended', suspend_reason: 'sleep', wake_at: wakeAt, next_run_time: wakeAt, children_results: '', last_active_time: now };
  if (context) patch.context = context;
  return change(task, patch, [events.suspended(task, 'sleep', { wake_at: wakeAt }, now)], { close_attempt: close(task, 'suspended', now) });
}

/**
 * The handler returned `task.waitForSignal(name)` (docs/behaviour.md#signals): `suspended` awaiting
 * the signal, or, when `ready` (an unconsumed signal of that name, just consumed by the caller),
 * through the same suspension straight back to `pending` at stage + 1 with the signal.
 */
export function waitSignal(
  task: Task,
  name: string,
  timeoutAt: number | null,
  context: Uint8Array | null | undefined,
  ready: { id: number; data: string | null; sent_at: number } | null,
  now: number,
): TaskChange {
  const patch: TaskPatch = { status: 'suspended', suspend_reason: 'signal', awaited_signal: name, wake_at: timeoutAt, children_results: '', last_active_time: now };
  if (timeoutAt !== null) patch.next_run_time = timeoutAt;
  if (context) patch.context = context;
  const suspended = events.suspended(task, 'signal', { signal: name, wake_at: timeoutAt }, now);
  if (!ready) return change(task, patch, [suspended], { close_attempt: close(task, 'suspended', now) });
  const resumed = signalResume(after(task, patch), ready, now);
  return change(task, { ...patch, ...resumed.patch }, [suspended, ...resumed.events], { close_attempt: close(task, 'suspended', now), due: true });
}

/** A task waiting for this signal gets it: `pending` at stage + 1, due now, with the signal's data. */
export function signalResume(task: Task, signal: { id: number; data: string | null; sent_at: number }, now: number): TaskChange {
  const stage = task.stage + 1;
  const name = task.awaited_signal ?? '';
  const received: ReceivedSignal = { name, timed_out: false, data: parseJson(signal.data), signal_id: signal.id, sent_at: signal.sent_at };
  return change(
    task,
    { status: 'pending', stage, next_run_time: now, last_active_time: now, received_signal: JSON.stringify(received) },
    [events.waitEnded(task, stage, 'signal', { signal: name, signal_id: signal.id }, now)],
    { guard: { status: 'suspended' }, due: true },
  );
}

/**
 * A timed wait is due (docs/behaviour.md#durable-sleep): a sleep resumes, a signal wait times out
 * (`received_signal.timed_out`); both `pending` at stage + 1, due now.
 */
export function wakeUp(task: Task, now: number): TaskChange {
  const stage = task.stage + 1;
  const patch: TaskPatch = { status: 'pending', stage, next_run_time: now, last_active_time: now };
  let draft: EventDraft;
  if (task.suspend_reason === 'signal') {
    const name = task.awaited_signal ?? '';
    const received: ReceivedSignal = { name, timed_out: true, data: null, signal_id: null, sent_at: null };
    patch.received_signal = JSON.stringify(received);
    draft = events.waitEnded(task, stage, 'signal_timeout', { signal: name, wake_at: task.wake_at }, now);
  } else {
    draft = events.waitEnded(task, stage, 'sleep_elapsed', { wake_at: task.wake_at }, now);
  }
  return change(task, patch, [draft], { guard: { status: 'suspended' }, due: true });
}

/**
 * The parent returned `next(children)` and its children were inserted: it suspends awaiting them
 * (docs/behaviour.md#workflows), or with no children resumes at once at stage + 1.
 */
export function spawn(
  parent: Task,
  childIds: TaskId[],
  childNames: string[],
  context: Uint8Array | null | undefined,
  now: number,
): TaskChange {
  const patch: TaskPatch = {
    status: 'suspended',
    suspend_reason: 'awaiting_subtasks',
    total_children: parent.total_children + childIds.length,
    children_results: '',
    last_active_time: now,
  };
  if (context) patch.context = context;
  const drafts = events.spawned(parent, childIds, childNames, now);
  if (childIds.length > 0) return change(parent, patch, drafts, { close_attempt: close(parent, 'suspended', now) });
  const resumed = resumeParent(after(parent, patch), now);
  return change(parent, { ...patch, ...resumed.patch }, [...drafts, ...resumed.events], {
    close_attempt: close(parent, 'suspended', now),
    due: true,
  });
}

/** A parent's children all finished: `pending` at stage + 1, due now. */
export function resumeParent(parent: Task, now: number): TaskChange {
  const stage = parent.stage + 1;
  return change(
    parent,
    { status: 'pending', stage, next_run_time: now, last_active_time: now },
    [events.childrenCompleted(parent, stage, now)],
    { guard: { status: 'suspended' }, due: true },
  );
}

/** True when a parent whose children were just credited may resume. */
export function parentReady(parent: Task): boolean {
  return parent.status === 'suspended' && parent.suspend_reason === 'awaiting_subtasks' && parent.completed_children >= parent.total_children;
}

/** The line appended to a parent's children results for a credited child. */
export function childResultLine(entry: ChildResult): string {
  return encodeChildResult(entry);
}

/**
 * A running task goes back to `pending` without consuming a retry: graceful-stop interruption
 * (`shutdown_timeout`, by its own worker) or worker recovery (`worker_unavailable`).
 */
export function requeue(
  task: Task,
  recovery: { reason: 'shutdown_timeout' | 'worker_unavailable'; by_worker_id: string; by_pod_id: string | null },
  now: number,
): TaskChange {
  const error = recovery.reason === 'worker_unavailable' ? SWEEP_ERRORS.recovered : null;
  const stage = task.keep_stage ? task.stage : 0;
  return change(
    task,
    { status: 'pending', stage, next_run_time: now, last_active_time: now, worker_id: null, start_time: null, result: null },
    [events.recovered(task, task.worker_id, recovery.by_worker_id, recovery.by_pod_id, recovery.reason, now, stage)],
    {
      guard: { status: 'running', worker_id: task.worker_id ?? '', attempt: task.attempt },
      close_attempt: { ...close(task, 'interrupted', now, error), timeout_flag: false },
      due: true,
    },
  );
}

/** Manual pause (docs/behaviour.md#manual-control); a running attempt closes as `paused`. */
export function pause(task: Task, now: number): TaskChange {
  return change(task, { status: 'paused', last_active_time: now }, [events.paused(task, task.status, now)], {
    close_attempt: task.status === 'running' ? close(task, 'paused', now) : null,
  });
}

/** Manual resume: `pending` due now, retries reset; from `suspended` at stage + 1, else stage 0 (a flow's parent keeps its stage). */
export function resume(task: Task, resumeReason: string, now: number): TaskChange {
  const fromSuspended = task.status === 'suspended';
  const stage = fromSuspended ? task.stage + 1 : task.keep_stage ? task.stage : 0;
  const patch: TaskPatch = { status: 'pending', stage, next_run_time: now, retry_count: 0, last_active_time: now };
  if (fromSuspended) patch.children_results = '';
  return change(task, patch, [events.resumed(task, task.status, stage, resumeReason, now)], {
    close_attempt: task.status === 'running' ? close(task, 'pending', now) : null,
    due: true,
  });
}

/**
 * Manual retry (`retryTask`): `pending`, due now, stage 0, result/context/children results cleared
 * as for an automatic retry. From `failed`/`timeout` the retry the task was waiting for happens now
 * (retry_count + 1, as the claim would count it); from `permanently_failed` the task starts over
 * (retry_count 0). The error of the last failure stays until the next attempt ends. A flow's parent
 * (`keep_stage`) keeps its stage, context and children results (docs/behaviour.md#flows).
 */
export function retry(task: Task, now: number): TaskChange {
  const previous = task.status as 'failed' | 'timeout' | 'permanently_failed';
  const retryCount = previous === 'permanently_failed' ? 0 : task.retry_count + 1;
  // a flow's parent keeps its stage and its children's results (docs/behaviour.md#flows)
  const patch: TaskPatch = task.keep_stage
    ? { status: 'pending', retry_count: retryCount, next_run_time: now, last_active_time: now, result: null }
    : { status: 'pending', stage: 0, retry_count: retryCount, next_run_time: now, last_active_time: now, result: null, context: null, children_results: null };
  if (task.received_signal !== null) patch.received_signal = null;
  return change(task, patch, [events.retriedManually(task, previous, retryCount, now, task.keep_stage ? task.stage : 0)], { guard: { status: task.status }, due: true });
}

/** The change, also setting the task's unique slot to `key` (an operator's retry or resume taking its key back); as is for null. */
export function withKey(change: TaskChange, key: string | null): TaskChange {
  return key === null ? change : { ...change, patch: { ...change.patch, unique_slot: key } };
}

/** What duplicates of a unique task ask of its holder: a payload to take, a run time to move to when later. */
export interface HolderUpdate {
  /** JSON text (`on_duplicate: 'replace'`); undefined leaves the payload. */
  payload?: string | null;
  /** A debounced duplicate's `next_run_time`; the holder moves to it only when that is later. */
  next_run_time?: number;
}

/**
 * A duplicate applied to the unique task holding its key (docs/behaviour.md#debounce-and-replace),
 * or null when nothing is to change: only a `pending` holder at stage 0 is changed (one that runs,
 * waits for a retry, is paused or suspended, or a workflow parent between stages has started), a
 * debounce never moves a run time earlier, and the status is left as it is. `task` is read under
 * the row's lock; the guard on `pending` makes the write a compare-and-set all the same.
 */
export function replaceHolder(task: Task, update: HolderUpdate, now: number): TaskChange | null {
  if (task.status !== 'pending' || task.stage !== 0) return null;
  const patch: TaskPatch = {};
  if (update.payload !== undefined) patch.payload = update.payload;
  if (update.next_run_time !== undefined && update.next_run_time > task.next_run_time) patch.next_run_time = update.next_run_time;
  if (patch.payload === undefined && patch.next_run_time === undefined) return null;
  const nextRunTime = patch.next_run_time ?? task.next_run_time;
  return change(task, patch, [events.replaced(task, patch.payload !== undefined, task.next_run_time, nextRunTime, now)], { guard: { status: 'pending' } });
}

/** The columns of a schedule's definition a `schedule()` call sets (docs/behaviour.md#schedules). */
const SCHEDULE_OPTION_COLUMNS = [
  'priority',
  'tag',
  'timeout',
  'max_retries',
  'retry_interval',
  'retry_backoff',
  'retry_max_interval',
  'retry_jitter',
  'concurrency_key',
] as const satisfies readonly (keyof TaskPatch & keyof NewTask)[];

/**
 * A schedule's row takes the definition of a `schedule()` call (docs/behaviour.md#schedules), or
 * null when nothing differs. A changed expression or time zone moves `next_run_time` to the new
 * one's (computed at the call), except while the row waits for a retry (`failed`/`timeout`) or a
 * workflow stage (`pending` at stage > 0); a running row keeps its attempt, and its worker's
 * finish keeps that time (see {@link reschedule}). The status never changes.
 */
export function updateSchedule(task: Task, def: NewTask, now: number): TaskChange | null {
  const patch: TaskPatch = {};
  const changed: string[] = [];
  if (def.payload !== JSON.stringify(task.payload)) {
    patch.payload = def.payload;
    changed.push('payload');
  }
  if (def.cron_expr !== task.cron_expr || def.cron_tz !== task.cron_tz) {
    patch.cron_expr = def.cron_expr;
    patch.cron_tz = def.cron_tz;
    changed.push('expression');
    const waits = task.status === 'failed' || task.status === 'timeout' || (task.status === 'pending' && task.stage > 0);
    if (!waits) patch.next_run_time = def.next_run_time;
  }
  let options = false;
  for (const column of SCHEDULE_OPTION_COLUMNS) {
    const value = def[column] ?? null;
    if (value !== (task[column] ?? null)) {
      (patch as Record<string, unknown>)[column] = value;
      options = true;
    }
  }
  if (options) changed.push('options');
  if (changed.length === 0) return null;
  const nextRunTime = patch.next_run_time ?? task.next_run_time;
  const draft = events.scheduleUpdated(task, task.status, task.unique_key ?? '', changed, task.next_run_time, nextRunTime, now);
  return change(task, patch, [draft], { due: task.status === 'pending' && nextRunTime <= now });
}

/**
 * A schedule removed (docs/behaviour.md#schedules): its key is released. A running row becomes an
 * `async` task whose attempt finishes as a one-off task's would; any other is cancelled
 * (`permanently_failed`, `Schedule removed`).
 */
export function removeSchedule(task: Task, now: number): TaskChange {
  const key = task.unique_key ?? '';
  if (task.status === 'running') {
    return change(task, { type: 'async', unique_slot: null }, [events.scheduleRemoved(task, 'running', 'running', key, now)]);
  }
  const cancelled = cancel(task, SCHEDULE_REMOVED, now);
  return { ...cancelled, events: [events.scheduleRemoved(task, task.status, 'permanently_failed', key, now), ...cancelled.events] };
}

/** The error of a schedule's row cancelled by its removal. */
export const SCHEDULE_REMOVED = 'Schedule removed';

/**
 * Manual cancel: `permanently_failed` with the reason as error; a child is credited. A cascade
 * (docs/behaviour.md#cascade-cancel) names the task whose cancel reached this one: its events say
 * `cascade: true, cancelled_by`.
 */
export function cancel(task: Task, reason: string, now: number, cascadeBy?: TaskId): TaskChange {
  const cascade = cascadeBy === undefined ? undefined : { cancelled_by: cascadeBy };
  return change(task, { status: 'permanently_failed', error: reason, last_active_time: now }, [events.cancelled(task, task.status, reason, now, cascade)], {
    close_attempt: task.status === 'running' ? close(task, 'cancelled', now, reason) : null,
    credit: creditOf(task, { error: reason }),
  });
}

/** True while a parent waits for its current batch of children (the state `next()` and a flow leave it in). */
export function awaitingChildren(parent: Task): boolean {
  return parent.status === 'suspended' && parent.suspend_reason === 'awaiting_subtasks';
}

/**
 * A child whose rule is `fail` failed for good (docs/behaviour.md#child-failure-rules): its waiting
 * parent becomes `permanently_failed` at once, with an error naming the child, a
 * `task_permanently_failed` event (`child_failed`, `on_failure: 'fail'`), its own dead letter when
 * it has a target, and its own credit to its parent (whose rule decides next).
 */
export function failByChild(parent: Task, child: Task, childError: string, now: number): TaskChange {
  // the first line of the child's error (its stack stays on the child)
  const error = `Child task ${child.id} (${child.name}) failed: ${childError.split('\n', 1)[0]}`;
  const deadLetter = deadLetterTask(parent, error, false, now);
  return change(parent, { status: 'permanently_failed', error, last_active_time: now }, [events.failedByChild(parent, child.id, error, now, deadLetter?.name ?? null)], {
    guard: { status: 'suspended' },
    credit: creditOf(parent, { error }),
    dead_letter: deadLetter,
  });
}

/** An event about the task that changes nothing else (a signal kept for a later wait). */
export function noted(task: Task, draft: EventDraft): TaskChange {
  return change(task, {}, [draft]);
}

/** A progress or checkpoint note (status unchanged); progress also updates the snapshot fields. */
export function note(
  task: Task,
  input: {
    event_type: 'task_progress' | 'task_checkpoint';
    message: string;
    metadata: Record<string, unknown>;
    progress?: { current_stage_name?: string; progress_text?: string; progress_percent?: number };
    stage?: number;
  },
  fence: { worker_id: string; attempt: number } | null,
  now: number,
): TaskChange {
  const patch: TaskPatch = {};
  if (input.event_type === 'task_progress') {
    patch.last_active_time = now;
    const progress = input.progress ?? {};
    for (const key of ['current_stage_name', 'progress_text', 'progress_percent'] as const) {
      if (progress[key] !== undefined) (patch as Record<string, unknown>)[key] = progress[key] ?? null;
    }
  }
  const draft = events.note(task, input.event_type, input.message, input.metadata, fence?.attempt ?? null, fence?.worker_id ?? null, input.stage, now);
  return change(task, patch, [draft]);
}
