import type { TaskStatus } from './statuses.js';
import { ALLOWED_TRANSITIONS, canRetry, canTransition, RETRYABLE_STATUSES } from './transitions.js';

/** The per-task actions an operator may take (docs/behaviour.md#manual-control). */
export const TASK_ACTIONS = ['pause', 'resume', 'cancel', 'retry'] as const;
/** One of {@link TASK_ACTIONS}. */
export type TaskAction = (typeof TASK_ACTIONS)[number];

/** What one task action is, for every tool that offers it: the TaskManager, the CLI and the dashboard. */
export interface TaskActionSpec {
  name: TaskAction;
  /** The TaskManager method and the Store operation that carry it out (one transaction with its audit event). */
  method: 'pauseTask' | 'resumeTask' | 'cancelTask' | 'retryTask';
  /** The past tense the CLI reports: `Task 7 (job) paused: now paused.` */
  past: string;
  /** The dashboard's link, page title and button. */
  label: string;
  /** The statuses it accepts, as the transition table (or, for retry, `RETRYABLE_STATUSES`) says. */
  from: readonly TaskStatus[];
  /** True when the task's status allows it; the store checks again inside its transaction. */
  allows(task: { status: TaskStatus; parent_id: number | null }): boolean;
  /**
   * The free text it records, when it takes one: its option name in the TaskManager API and the
   * store (`resume_reason`, `reason`), and what the CLI's `--reason` help says of it.
   */
  reason?: { option: 'resume_reason' | 'reason'; help: string };
  /** One line of help: the CLI's command description. */
  help: string;
}

/**
 * The one table of task actions. The statuses come from the transition table so that what the
 * tools offer cannot drift from what the store allows; the help texts say the same in words.
 */
export const TASK_ACTION_SPECS: Readonly<Record<TaskAction, TaskActionSpec>> = {
  pause: {
    name: 'pause',
    method: 'pauseTask',
    past: 'paused',
    label: 'Pause',
    from: ALLOWED_TRANSITIONS.paused,
    allows: (task) => canTransition(task.status, 'paused'),
    help: 'pause a pending, running, failed or timed-out task',
  },
  resume: {
    name: 'resume',
    method: 'resumeTask',
    past: 'resumed',
    label: 'Resume',
    from: ALLOWED_TRANSITIONS.pending,
    allows: (task) => canTransition(task.status, 'pending'),
    reason: { option: 'resume_reason', help: 'resume reason recorded on the event (default: manual)' },
    help: 'resume a paused, suspended, failed, timed-out or running task (due now, retries reset)',
  },
  cancel: {
    name: 'cancel',
    method: 'cancelTask',
    past: 'cancelled',
    label: 'Cancel',
    from: ALLOWED_TRANSITIONS.permanently_failed,
    allows: (task) => canTransition(task.status, 'permanently_failed'),
    reason: { option: 'reason', help: 'error recorded on the task (default: Task cancelled)' },
    help: 'cancel an unfinished task (it becomes permanently_failed)',
  },
  retry: {
    name: 'retry',
    method: 'retryTask',
    past: 'retried',
    label: 'Retry',
    from: RETRYABLE_STATUSES,
    allows: canRetry,
    help: 'run a failed or timed-out task now, or a permanently failed one again with its retries reset',
  },
};

/** True when `value` is one of {@link TASK_ACTIONS}. */
export function isTaskAction(value: unknown): value is TaskAction {
  return typeof value === 'string' && (TASK_ACTIONS as readonly string[]).includes(value);
}

/** The actions a task's status allows, in {@link TASK_ACTIONS} order. */
export function allowedTaskActions(task: { status: TaskStatus; parent_id: number | null }): TaskAction[] {
  return TASK_ACTIONS.filter((action) => TASK_ACTION_SPECS[action].allows(task));
}
