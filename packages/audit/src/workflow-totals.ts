import type { AttemptOutcome, Task, TaskAttempt, TaskEvent, TaskId, TaskStatus } from '@taskmill/contracts';
import { attemptDurationSeconds } from './attempt-durations.js';

/*
 * The counts and timings of the workflow summary (docs/behaviour.md#audit-summary): totals, counts
 * by key, workers, wall-clock landmarks, the root's stage timings and the failed tasks.
 */

/** Counts over the whole workflow (docs/behaviour.md#audit-summary `totals`). */
export interface WorkflowTotals {
  tasks: number;
  attempts: number;
  events: number;
  /** Number of `task_checkpoint` events. */
  checkpoints: number;
  /** Largest attempt number among the attempt rows, 0 when there are none. */
  max_attempt: number;
}

/** Wall-clock landmarks of the workflow; times in epoch ms, the duration in seconds. */
export interface WorkflowTiming {
  /** The root's `created_at`, or `null` without a root. */
  created_at: number | null;
  /** Earliest attempt `started_at`. */
  first_started_at: number | null;
  /** Latest non-null attempt `ended_at`. */
  last_ended_at: number | null;
  /** Latest event `event_time`. */
  last_event_time: number | null;
  /** `max(0, last_ended_at - created_at) / 1000`, or `null` when either end is unknown. */
  workflow_duration_seconds: number | null;
}

/** One execution round of the root task (docs/behaviour.md#audit-summary `stage_timings`). */
export interface StageTiming {
  /** Stage the root ran at in this attempt (from its start event, else `max(0, attempt - 1)`). */
  stage: number;
  attempt: number;
  started_at: number;
  ended_at: number | null;
  /** Seconds with millisecond fractions; `null` while the attempt is open. */
  duration_seconds: number | null;
  outcome: AttemptOutcome | null;
  worker_id: string | null;
}

/** Statuses that put a task into the summary's `failed_tasks`. */
export type FailedTaskStatus = 'failed' | 'timeout' | 'permanently_failed' | 'paused';

/** A task whose current status is one of {@link FailedTaskStatus}. */
export interface FailedTask {
  task_id: TaskId;
  name: string;
  status: FailedTaskStatus;
  error: string | null;
}

const FAILED_STATUSES: ReadonlySet<TaskStatus> = new Set<FailedTaskStatus>([
  'failed',
  'timeout',
  'permanently_failed',
  'paused',
]);

/** Code-unit string order: deterministic regardless of the runtime's locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Count items per key into an object whose keys are inserted in sorted (code-unit) order.
 * Items whose key is `null` or `undefined` are skipped.
 */
export function countBy<T, K extends string>(
  items: readonly T[],
  keyOf: (item: T) => K | null | undefined,
): Partial<Record<K, number>> {
  const counts = new Map<K, number>();
  for (const item of items) {
    const key = keyOf(item);
    if (key === null || key === undefined) continue;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const keys = [...counts.keys()].sort(compareStrings);
  return Object.fromEntries(keys.map((key) => [key, counts.get(key)])) as Partial<Record<K, number>>;
}

/**
 * The workflow's tasks, each id once: the given root wins over a stale copy in `tasks`, and a
 * root the caller forgot to list is still counted.
 */
export function workflowTasks(root: Task | null, tasks: readonly Task[]): Task[] {
  const byId = new Map<TaskId, Task>();
  if (root) byId.set(root.id, root);
  for (const task of tasks) if (!byId.has(task.id)) byId.set(task.id, task);
  return [...byId.values()];
}

/** {@link WorkflowTotals} over the given rows. */
export function workflowTotals(
  tasks: readonly Task[],
  attempts: readonly TaskAttempt[],
  events: readonly TaskEvent[],
): WorkflowTotals {
  return {
    tasks: tasks.length,
    attempts: attempts.length,
    events: events.length,
    checkpoints: events.filter((event) => event.event_type === 'task_checkpoint').length,
    max_attempt: attempts.reduce((max, attempt) => Math.max(max, attempt.attempt), 0),
  };
}

/** Sorted unique worker ids from all three sources; `null` and `''` mean "no worker". */
export function workflowWorkers(
  tasks: readonly Task[],
  attempts: readonly TaskAttempt[],
  events: readonly TaskEvent[],
): string[] {
  const ids = new Set<string>();
  for (const row of [...tasks, ...attempts, ...events]) {
    if (row.worker_id) ids.add(row.worker_id);
  }
  return [...ids].sort(compareStrings);
}

function maxOf(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => Math.max(a, b));
}

function minOf(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => Math.min(a, b));
}

/** {@link WorkflowTiming} of a workflow. */
export function workflowTiming(
  root: Task | null,
  attempts: readonly TaskAttempt[],
  events: readonly TaskEvent[],
): WorkflowTiming {
  const createdAt = root ? root.created_at : null;
  const lastEndedAt = maxOf(attempts.flatMap((a) => (a.ended_at === null ? [] : [a.ended_at])));
  return {
    created_at: createdAt,
    first_started_at: minOf(attempts.map((a) => a.started_at)),
    last_ended_at: lastEndedAt,
    last_event_time: maxOf(events.map((e) => e.event_time)),
    workflow_duration_seconds:
      createdAt === null || lastEndedAt === null ? null : Math.max(0, lastEndedAt - createdAt) / 1000,
  };
}

/** Event rows by time, ties by id: the order the store would return them in. */
function byEventOrder(a: TaskEvent, b: TaskEvent): number {
  return a.event_time - b.event_time || a.id - b.id;
}

/**
 * One {@link StageTiming} per attempt of the root, by attempt number. The stage is read from the
 * root's first start event (`task_started` / `task_retry_started`) of that attempt that records a
 * stage; attempt rows carry no stage, so without such an event it is estimated as
 * `max(0, attempt - 1)`.
 */
export function stageTimings(
  root: Task | null,
  attempts: readonly TaskAttempt[],
  events: readonly TaskEvent[],
): StageTiming[] {
  if (!root) return [];
  const startStages = new Map<number, number>();
  const startEvents = events
    .filter(
      (event) =>
        event.task_id === root.id &&
        (event.event_type === 'task_started' || event.event_type === 'task_retry_started') &&
        event.attempt !== null &&
        event.stage !== null,
    )
    .sort(byEventOrder);
  for (const event of startEvents) {
    const attempt = event.attempt as number;
    if (!startStages.has(attempt)) startStages.set(attempt, event.stage as number);
  }
  return attempts
    .filter((attempt) => attempt.task_id === root.id)
    .sort((a, b) => a.attempt - b.attempt || a.id - b.id)
    .map((attempt) => ({
      stage: startStages.get(attempt.attempt) ?? Math.max(0, attempt.attempt - 1),
      attempt: attempt.attempt,
      started_at: attempt.started_at,
      ended_at: attempt.ended_at,
      duration_seconds: attemptDurationSeconds(attempt),
      outcome: attempt.outcome,
      worker_id: attempt.worker_id,
    }));
}

/**
 * Tasks whose current status is failed, timeout, permanently_failed or paused, in the order the
 * store lists tasks (`created_at`, then id).
 */
export function failedTasks(tasks: readonly Task[]): FailedTask[] {
  return tasks
    .filter((task) => FAILED_STATUSES.has(task.status))
    .sort((a, b) => a.created_at - b.created_at || a.id - b.id)
    .map((task) => ({
      task_id: task.id,
      name: task.name,
      status: task.status as FailedTaskStatus,
      error: task.error,
    }));
}
