/*
 * @taskmill/audit — the read side of the audit trail, on any taskmill store: paged queries, the
 * task and workflow views, the workflow summary, and task counts by name and status. Needs no
 * running TaskManager.
 */
export {
  queryTasks,
  queryTaskEvents,
  queryWorkflowEvents,
  queryTaskAttempts,
  queryWorkflowAttempts,
  getTaskAudit,
  getWorkflowAudit,
  getWorkflowAuditSummary,
  type AuditStore,
  type TaskAudit,
  type WorkflowAudit,
} from './queries.js';
export { countTasksByNameAndStatus, type TaskCounts, type NameStatusCount } from './task-counts.js';
export {
  countDue,
  describeFlowLimits,
  flowStatus,
  publishedFlowLimits,
  type FlowStatus,
  type LimitedNameStatus,
  type PausedNameStatus,
} from './flow-status.js';
export { summarizeWorkflow, type WorkflowRows, type WorkflowAuditSummary } from './summary.js';
export type { WorkflowTotals, WorkflowTiming, StageTiming, FailedTask, FailedTaskStatus } from './workflow-totals.js';
export type { CriticalPath, CriticalPathNode } from './critical-path.js';
export type { TimedAttempt } from './attempt-durations.js';
