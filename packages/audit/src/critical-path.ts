import type { AttemptOutcome, Task, TaskAttempt, TaskId, TaskStatus } from '@taskmill/contracts';
import { attemptDurationMs, attemptDurationSeconds } from './attempt-durations.js';
import { workflowTasks } from './workflow-totals.js';

/*
 * The critical path of the workflow summary (docs/behaviour.md#audit-summary): the root-to-leaf
 * chain of tasks whose own durations add up to the greatest total.
 */

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
