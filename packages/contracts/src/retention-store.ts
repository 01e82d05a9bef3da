import type { TaskStatus } from './statuses.js';

/* The retention part of the Store contract: bounded deletion of expired tasks with their audit rows. */

/** Input of {@link RetentionStore.purgeExpiredTasks}. */
export interface PurgeInput {
  statuses: TaskStatus[];
  /** Delete tasks whose `last_active_time` (or `created_at` when null) is before this (ms). */
  before: number;
  /** Batch size. */
  limit: number;
  /**
   * Take the store's cluster-wide retention lock for this batch, without waiting: while another
   * exclusive batch holds it, delete nothing and report `busy`. Automatic sweeps set it, so that
   * one process of a cluster sweeps at a time. (Default: false)
   */
  exclusive?: boolean;
}

/** Counts of a purge batch. */
export interface PurgeResult {
  tasks_deleted: number;
  events_deleted: number;
  attempts_deleted: number;
  /** The batch was full: call again. */
  has_more: boolean;
  /** Only with `exclusive`: another process's batch held the retention lock, so nothing was deleted. */
  busy?: true;
}

/** Retention (docs/behaviour.md#retention). */
export interface RetentionStore {
  /** Delete one bounded batch of expired tasks (oldest first) with their events and attempts. */
  purgeExpiredTasks(input: PurgeInput): Promise<PurgeResult>;
}
