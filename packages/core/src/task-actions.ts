import { TASK_ACTION_SPECS, ValidationError, type CascadeCancelResult, type Store, type Task, type TaskAction, type TaskId } from '@taskmill/contracts';
import { describe, knownOptions, reasonOption } from './validate.js';

/** Options of {@link runTaskAction}. */
export interface TaskActionOptions {
  /**
   * The free text the action records: `resume_reason` of a resume (default `manual`), the error of
   * a cancel (default `Task cancelled`). Ignored by pause and retry.
   */
  reason?: string;
  /**
   * `cancel` only: also cancel every unfinished descendant of the task, in one transaction
   * (docs/behaviour.md#cascade-cancel). (Default: false)
   */
  cascade?: boolean;
}

/**
 * Carry out a task action (docs/behaviour.md#manual-control) through its one store operation: the
 * transition table is checked inside the store's transaction, a refused action throws
 * InvalidTransitionError (TaskNotFoundError for an unknown id) and changes nothing. `now` must be
 * on the database's clock (a `DbClock`): a resumed or retried task is due at it, and workers judge
 * that against the database's time. The TaskManager, the CLI and the dashboard all act through
 * this; resolves to the task as it is after the action.
 */
export async function runTaskAction(store: Store, action: TaskAction, id: TaskId, options: TaskActionOptions, now: number): Promise<Task> {
  switch (action) {
    case 'pause':
      return store.pauseTask(id, now);
    case 'resume':
      return store.resumeTask(id, { resume_reason: options.reason }, now);
    case 'cancel':
      if (options.cascade) return (await store.cancelTaskTree(id, { reason: options.reason }, now)).task;
      return store.cancelTask(id, { reason: options.reason }, now);
    case 'retry':
      return store.retryTask(id, now);
  }
}

/**
 * The TaskManager's options argument of an action, checked: `{resume_reason?}` of `resumeTask`,
 * `{reason?}` of `cancelTask` (trimmed, non-empty, at most LIMITS.max_text_bytes); the actions that
 * take no text ignore their argument, as they always have.
 */
export function taskActionOptions(action: TaskAction, options: unknown): TaskActionOptions {
  const { reason, method } = TASK_ACTION_SPECS[action];
  if (action === 'cancel') {
    const opts = knownOptions(options, ['reason', 'cascade'], `${method} options`, method);
    if (opts.cascade !== undefined && typeof opts.cascade !== 'boolean') throw new ValidationError(`cascade must be a boolean, got ${describe(opts.cascade)}`);
    return { reason: reasonOption({ reason: opts.reason === undefined ? undefined : opts.reason }, 'reason', method), ...(opts.cascade ? { cascade: true } : {}) };
  }
  return reason ? { reason: reasonOption(options, reason.option, method) } : {};
}

/**
 * Cascade cancel (docs/behaviour.md#cascade-cancel) through its one store operation: the task and
 * every unfinished descendant, in one transaction, on the database's clock `now`.
 */
export function runCascadeCancel(store: Store, id: TaskId, options: TaskActionOptions, now: number): Promise<CascadeCancelResult> {
  return store.cancelTaskTree(id, { reason: options.reason }, now);
}

/**
 * What a TaskManager does in its own process once the store accepted an action: the handler it
 * runs for the task (if any) has its signal aborted with this message and its outcome discarded,
 * and idle workers are woken when the task became claimable now.
 */
export const AFTER_TASK_ACTION: Readonly<Record<TaskAction, { abandon?: string; wake: boolean }>> = {
  pause: { abandon: 'was paused', wake: false },
  resume: { abandon: 'was resumed elsewhere', wake: true },
  cancel: { abandon: 'was cancelled', wake: true },
  // a running task cannot be retried: nothing of it runs here
  retry: { wake: true },
};
