import type { AttemptOutcome, Task, TaskAttempt, TaskEvent, TaskId, TaskStatus } from '@taskmill/contracts';

/**
 * Everything a workflow summary is computed from. Rows may come in any order: every function
 * here sorts what it needs itself.
 */
export interface WorkflowRows {
  /** The workflow root, or `null` when no task has the requested id. */
  root: Task | null;
  /** Every task of the workflow, the root included (a root missing from this list is added). */
  tasks: Task[];
  /** Every attempt of those tasks. */
  attempts: TaskAttempt[];
  /** Every event whose `root_id` is the root's id (a root's own events carry its id there). */
  events: TaskEvent[];
}

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

/** Statuses that put a task into {@link WorkflowAuditSummary.failed_tasks}. */
export type FailedTaskStatus = 'failed' | 'timeout' | 'permanently_failed' | 'paused';

/** A task whose current status is one of {@link FailedTaskStatus}. */
export interface FailedTask {
  task_id: TaskId;
  name: string;
  status: FailedTaskStatus;
  error: string | null;
}

/** One task on the critical path, described by its representative (longest) attempt. */
export interface CriticalPathNode {
  task_id: TaskId;
  name: string;
  status: TaskStatus;
  stage: number;
  /** Attempt number of the representative attempt; `null` for a task never claimed. */
  attempt: number | null;
  outcome: AttemptOutcome | null;
  /** Seconds with millisecond fractions; `null` for an open or missing attempt. */
  duration_seconds: number | null;
  started_at: number | null;
  ended_at: number | null;
}

/** The root-to-leaf chain of tasks whose own durations add up to the greatest total. */
export interface CriticalPath {
  /** Sum of the nodes' own durations (open or missing attempts count 0), in seconds. */
  total_duration_seconds: number;
  /** From the root down; empty when the root is missing. */
  nodes: CriticalPathNode[];
}

/** An attempt row plus its duration. */
export type TimedAttempt = TaskAttempt & {
  /** `max(0, ended_at - started_at) / 1000`, or `null` while the attempt is open. */
  duration_seconds: number | null;
};

/** The result of `getWorkflowAuditSummary(rootId)` (docs/behaviour.md#audit-summary; units: #time). */
export interface WorkflowAuditSummary {
  root_task: Task | null;
  totals: WorkflowTotals;
  /** Tasks per current status, keys sorted. */
  statuses: Partial<Record<TaskStatus, number>>;
  /** Closed attempts per outcome, keys sorted; open attempts are not counted. */
  attempt_outcomes: Partial<Record<AttemptOutcome, number>>;
  /** Tasks per name, keys sorted. */
  task_names: Record<string, number>;
  /**
   * Tasks per current stage, keyed by the stringified stage. Keys are inserted sorted as
   * strings, but JavaScript enumerates integer-like keys numerically whatever the insertion order.
   */
  stages: Record<string, number>;
  /** Sorted unique non-empty worker ids from tasks, attempts and events. */
  workers: string[];
  timing: WorkflowTiming;
  /** One entry per root attempt, by attempt number. */
  stage_timings: StageTiming[];
  failed_tasks: FailedTask[];
  critical_path: CriticalPath;
  /** The five slowest attempts of the workflow. */
  slowest_attempts: TimedAttempt[];
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
 * Integer milliseconds of a closed attempt, `null` while open. Arithmetic stays in ms so sums
 * are exact and only the final division produces a fraction.
 */
function attemptDurationMs(attempt: TaskAttempt): number | null {
  if (attempt.ended_at === null) return null;
  return Math.max(0, attempt.ended_at - attempt.started_at);
}

function msToSeconds(ms: number | null): number | null {
  return ms === null ? null : ms / 1000;
}

/**
 * Seconds an attempt took, with millisecond fractions (`0.012`); clock skew never makes it
 * negative. `null` while the attempt is open.
 */
export function attemptDurationSeconds(attempt: TaskAttempt): number | null {
  return msToSeconds(attemptDurationMs(attempt));
}

/** Copy of an attempt row with its {@link attemptDurationSeconds}. */
export function timedAttempt(attempt: TaskAttempt): TimedAttempt {
  return { ...attempt, duration_seconds: attemptDurationSeconds(attempt) };
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

/**
 * Negative when `a` is the better representative: longer first (open attempts rank lowest),
 * then earlier `ended_at` (nulls last), then lower attempt number, then lower id so the choice
 * never depends on input order.
 */
function compareRepresentative(a: TaskAttempt, b: TaskAttempt): number {
  const da = attemptDurationMs(a);
  const db = attemptDurationMs(b);
  if (da !== db) {
    if (da === null) return 1;
    if (db === null) return -1;
    return db - da;
  }
  if (a.ended_at !== b.ended_at) {
    if (a.ended_at === null) return 1;
    if (b.ended_at === null) return -1;
    return a.ended_at - b.ended_at;
  }
  return a.attempt - b.attempt || a.id - b.id;
}

/** The attempt that stands for a task on the critical path (docs/behaviour.md#audit-summary), `null` if none. */
export function representativeAttempt(attempts: readonly TaskAttempt[]): TaskAttempt | null {
  let best: TaskAttempt | null = null;
  for (const attempt of attempts) {
    if (best === null || compareRepresentative(attempt, best) < 0) best = attempt;
  }
  return best;
}

interface PathTotal {
  /** Integer ms, so equal totals compare equal. */
  totalMs: number;
  bestChild: TaskId | null;
}

/**
 * The critical path from `root` down through `parent_id` links. Each task contributes its
 * representative attempt's duration (0 if none); at each task the child (by ascending id) with
 * the greatest path total is followed, ties keeping the lowest id.
 *
 * Iterative post-order so a chain thousands deep cannot overflow the stack; tasks not reachable
 * from the root are ignored and a malformed cycle is cut at the first revisit.
 */
export function criticalPath(
  root: Task | null,
  tasks: readonly Task[],
  attempts: readonly TaskAttempt[],
): CriticalPath {
  if (!root) return { total_duration_seconds: 0, nodes: [] };
  const all = workflowTasks(root, tasks);

  const children = new Map<TaskId, Task[]>();
  for (const task of all) {
    if (task.id === root.id || task.parent_id === null) continue;
    const siblings = children.get(task.parent_id);
    if (siblings) siblings.push(task);
    else children.set(task.parent_id, [task]);
  }
  for (const siblings of children.values()) siblings.sort((a, b) => a.id - b.id);

  const attemptsByTask = new Map<TaskId, TaskAttempt[]>();
  for (const attempt of attempts) {
    const list = attemptsByTask.get(attempt.task_id);
    if (list) list.push(attempt);
    else attemptsByTask.set(attempt.task_id, [attempt]);
  }
  const representative = (task: Task) => representativeAttempt(attemptsByTask.get(task.id) ?? []);

  const totals = new Map<TaskId, PathTotal>();
  const visited = new Set<TaskId>([root.id]);
  // Each frame remembers the children it actually descended into, so a child skipped as a
  // revisit (cycle or duplicate) is never credited to this task.
  const stack: Array<{ task: Task; next: number; taken: TaskId[] }> = [{ task: root, next: 0, taken: [] }];
  for (let frame = stack.at(-1); frame !== undefined; frame = stack.at(-1)) {
    const kids = children.get(frame.task.id) ?? [];
    if (frame.next < kids.length) {
      const kid = kids[frame.next++];
      if (kid !== undefined && !visited.has(kid.id)) {
        visited.add(kid.id);
        frame.taken.push(kid.id);
        stack.push({ task: kid, next: 0, taken: [] });
      }
      continue;
    }
    stack.pop();
    let bestChild: TaskId | null = null;
    let bestMs = 0;
    for (const kidId of frame.taken) {
      const kidTotal = (totals.get(kidId) as PathTotal).totalMs;
      if (bestChild === null || kidTotal > bestMs) {
        bestChild = kidId;
        bestMs = kidTotal;
      }
    }
    const ownMs = attemptDurationMsOrZero(representative(frame.task));
    totals.set(frame.task.id, { totalMs: ownMs + bestMs, bestChild });
  }

  const byId = new Map(all.map((task) => [task.id, task]));
  const nodes: CriticalPathNode[] = [];
  for (let id: TaskId | null = root.id; id !== null; id = (totals.get(id) as PathTotal).bestChild) {
    const task = byId.get(id) as Task;
    const attempt = representative(task);
    nodes.push({
      task_id: task.id,
      name: task.name,
      status: task.status,
      stage: task.stage,
      attempt: attempt ? attempt.attempt : null,
      outcome: attempt ? attempt.outcome : null,
      duration_seconds: attempt ? attemptDurationSeconds(attempt) : null,
      started_at: attempt ? attempt.started_at : null,
      ended_at: attempt ? attempt.ended_at : null,
    });
  }
  return { total_duration_seconds: (totals.get(root.id) as PathTotal).totalMs / 1000, nodes };
}

function attemptDurationMsOrZero(attempt: TaskAttempt | null): number {
  return attempt ? (attemptDurationMs(attempt) ?? 0) : 0;
}

/**
 * The `n` slowest attempts: duration descending with open attempts ranked as -1 (below any
 * closed one), then `started_at` ascending, then id ascending.
 */
export function slowestAttempts(attempts: readonly TaskAttempt[], n = 5): TimedAttempt[] {
  const rank = (attempt: TaskAttempt) => attemptDurationMs(attempt) ?? -1;
  return [...attempts]
    .sort((a, b) => rank(b) - rank(a) || a.started_at - b.started_at || a.id - b.id)
    .slice(0, Math.max(0, n))
    .map(timedAttempt);
}

/** The whole workflow audit summary (docs/behaviour.md#audit-summary; units: #time) computed from loaded rows. */
export function summarizeWorkflow(rows: WorkflowRows): WorkflowAuditSummary {
  const { root, attempts, events } = rows;
  const tasks = workflowTasks(root, rows.tasks);
  return {
    root_task: root,
    totals: workflowTotals(tasks, attempts, events),
    statuses: countBy(tasks, (task) => task.status),
    attempt_outcomes: countBy(attempts, (attempt) => attempt.outcome),
    task_names: countBy(tasks, (task) => task.name) as Record<string, number>,
    stages: countBy(tasks, (task) => String(task.stage)) as Record<string, number>,
    workers: workflowWorkers(tasks, attempts, events),
    timing: workflowTiming(root, attempts, events),
    stage_timings: stageTimings(root, attempts, events),
    failed_tasks: failedTasks(tasks),
    critical_path: criticalPath(root, tasks, attempts),
    slowest_attempts: slowestAttempts(attempts),
  };
}
