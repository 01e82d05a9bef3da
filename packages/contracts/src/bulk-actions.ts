import type { TaskId } from './records.js';
import type { TaskStatus } from './statuses.js';
import { TASK_ACTIONS, TASK_ACTION_SPECS, type TaskAction } from './task-actions.js';

/*
 * Bulk operator actions (docs/behaviour.md#bulk-actions): the four task actions and delete, by
 * filter, in batches of their own transactions.
 */

/** The actions a bulk run may take: the four {@link TASK_ACTIONS} and `delete`. */
export const BULK_ACTIONS = [...TASK_ACTIONS, 'delete'] as const;
/** One of {@link BULK_ACTIONS}. */
export type BulkAction = TaskAction | 'delete';

/**
 * The statuses a bulk delete takes: the final ones and `paused`, the statuses the transition
 * table lets an operator delete (docs/behaviour.md#transitions). A task waiting, running or
 * suspended is never deleted by a bulk run: cancel it first.
 */
export const BULK_DELETABLE_STATUSES: readonly TaskStatus[] = ['completed', 'permanently_failed', 'paused'];

/** True when `value` is one of {@link BULK_ACTIONS}. */
export function isBulkAction(value: unknown): value is BulkAction {
  return typeof value === 'string' && (BULK_ACTIONS as readonly string[]).includes(value);
}

/** The statuses a bulk action selects: the task action's (transition table), or {@link BULK_DELETABLE_STATUSES}. */
export function bulkActionStatuses(action: BulkAction): readonly TaskStatus[] {
  return action === 'delete' ? BULK_DELETABLE_STATUSES : TASK_ACTION_SPECS[action].from;
}

/**
 * Which tasks a bulk action takes: every given criterion, ANDed. No criterion at all takes every
 * task the action applies to, and must be said with `all: true`, so that `{}` passed by mistake
 * changes nothing. Bad values are a `ValidationError` (never ignored, unlike the query filters).
 */
export interface BulkFilter {
  /** The task name. */
  name?: string;
  /** One status or several; each must be one the action accepts, else nothing matches and it is an error. */
  status?: TaskStatus | readonly TaskStatus[];
  /** The task's tag. */
  tag?: string;
  /** Created at or after this time (ms since the epoch, or a Date). */
  created_after?: number | Date;
  /** Created at or before this time (ms since the epoch, or a Date). */
  created_before?: number | Date;
  /** The tasks of one workflow: its root and every descendant. */
  root_id?: TaskId;
  /** Required (true) when no other criterion is given: act on every task the action applies to. */
  all?: boolean;
}

/** One batch of a bulk action, as the store takes it. */
export interface BulkBatchInput {
  /** Only tasks with an id greater than this (0 for the first batch): the keyset cursor. */
  after: TaskId;
  /** At most this many tasks (1..LIMITS.max_bulk_batch_size). */
  limit: number;
  /** Cancel: the error recorded (default `Task cancelled`); resume: the `resume_reason` (default `manual`). */
  reason?: string;
}

/** What one batch did. */
export interface BulkBatchResult {
  /** The tasks changed (or deleted), by id. */
  changed: TaskId[];
  /** The tasks selected but left as they were: their status no longer allows the action, or another task holds their unique key. */
  skipped: TaskId[];
  /** The cursor of the next batch, or null when this batch was the last. */
  next: TaskId | null;
}
