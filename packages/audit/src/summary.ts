import type { AttemptOutcome, Task, TaskAttempt, TaskEvent, TaskStatus } from '@taskmill/contracts';
import { slowestAttempts, type TimedAttempt } from './attempt-durations.js';
import { criticalPath, type CriticalPath } from './critical-path.js';
import {
  countBy,
  failedTasks,
  stageTimings,
  workflowTasks,
  workflowTiming,
  workflowTotals,
  workflowWorkers,
  type FailedTask,
  type StageTiming,
  type WorkflowTiming,
  type WorkflowTotals,
} from './workflow-totals.js';

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
