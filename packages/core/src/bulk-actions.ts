import { setTimeout as sleep } from 'node:timers/promises';
import {
  BULK_ACTIONS,
  isBulkAction,
  LIMITS,
  TASK_ACTION_SPECS,
  ValidationError,
  type BulkAction,
  type BulkFilter,
  type Store,
  type TaskId,
} from '@taskmill/contracts';
import { freeText, knownOptions, nonEmptyString } from './validate.js';

/** A bulk action's batch size when none is given (docs/behaviour.md#bulk-actions). */
export const DEFAULT_BULK_BATCH_SIZE = 500;

/** The longest pause between two batches of a bulk action, ms (docs/behaviour.md#bulk-actions). */
export const MAX_BULK_PAUSE_MS = 1000;

/** Where a bulk action stands, after its count and after each batch. */
export interface BulkProgress {
  action: BulkAction;
  /** The tasks the filter selected when the run began (the dry run's answer); tasks may come and go meanwhile. */
  total: number;
  /** Tasks the batches have taken so far: `changed + skipped`. */
  matched: number;
  /** Tasks changed (or deleted) so far. */
  changed: number;
  /** Tasks left as they were so far: their status changed meanwhile, or another task holds their unique key. */
  skipped: number;
  /** Batches committed so far. */
  batches: number;
}

/** What a bulk action did (a dry run: `total` only, nothing written). */
export interface BulkResult extends BulkProgress {
  dry_run: boolean;
}

/** Options of a bulk action. */
export interface BulkOptions {
  /** Tasks per batch, each batch one transaction (1..LIMITS.max_bulk_batch_size). (Default: 500) */
  batch_size?: number;
  /** `cancel`: the error recorded (default `Task cancelled`); `resume`: the `resume_reason` (default `manual`). Other actions take none. */
  reason?: string;
  /** Count the tasks the action would take, write nothing. (Default: false) */
  dry_run?: boolean;
  /** Called after the count and after each batch; an exception it throws stops the run after that batch. */
  onProgress?: (progress: BulkProgress) => void;
}

/** {@link BulkOptions} checked. */
export interface CheckedBulkOptions {
  batch_size: number;
  reason: string | undefined;
  dry_run: boolean;
  onProgress: ((progress: BulkProgress) => void) | undefined;
}

/** The action argument of a bulk call, checked. */
export function bulkAction(action: unknown): BulkAction {
  if (!isBulkAction(action)) throw new ValidationError(`Invalid bulk action: ${JSON.stringify(action)}; expected one of: ${BULK_ACTIONS.join(', ')}`);
  return action;
}

/** The options argument of a bulk call, checked before anything is written. */
export function bulkOptions(action: BulkAction, options: unknown): CheckedBulkOptions {
  const o = knownOptions(options, ['batch_size', 'reason', 'dry_run', 'onProgress'], 'bulk options', 'bulk');
  const size = o.batch_size ?? DEFAULT_BULK_BATCH_SIZE;
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > LIMITS.max_bulk_batch_size) {
    throw new ValidationError(`batch_size must be an integer from 1 to ${LIMITS.max_bulk_batch_size}, got ${JSON.stringify(o.batch_size)}`);
  }
  let reason: string | undefined;
  if (o.reason !== undefined) {
    if (action === 'delete' || !TASK_ACTION_SPECS[action].reason) throw new ValidationError(`bulk ${action} takes no reason (only cancel and resume record one)`);
    reason = freeText(nonEmptyString(o.reason, 'reason').trim(), 'reason');
  }
  if (o.dry_run !== undefined && typeof o.dry_run !== 'boolean') throw new ValidationError('dry_run must be true or false');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new ValidationError('onProgress must be a function');
  return { batch_size: size, reason, dry_run: o.dry_run === true, onProgress: o.onProgress as CheckedBulkOptions['onProgress'] };
}

/**
 * Carry out a bulk action (docs/behaviour.md#bulk-actions): count what the filter selects (the
 * store validates the filter there, before anything is written), then, unless a dry run, batch
 * after batch, each the store's one transaction. After each batch it waits as long as the batch
 * took (at most MAX_BULK_PAUSE_MS), so that a run holds write locks at most about half of the time:
 * workers waiting for them (SQLite's one writer above all, whose busy wait polls) get their turn.
 * `now` is read per batch on the database's clock. `afterBatch` gets each batch's changed ids (the
 * TaskManager abandons its local handlers of them). The TaskManager, the CLI and the dashboard all
 * act through this.
 */
export async function runBulkAction(
  store: Store,
  action: BulkAction,
  filter: BulkFilter,
  options: CheckedBulkOptions,
  now: () => number,
  afterBatch?: (changed: TaskId[]) => void,
): Promise<BulkResult> {
  const total = await store.countBulkTasks(action, filter);
  const progress: BulkProgress = { action, total, matched: 0, changed: 0, skipped: 0, batches: 0 };
  if (options.dry_run) return { ...progress, dry_run: true };
  options.onProgress?.({ ...progress });
  let after: TaskId = 0;
  for (;;) {
    const started = performance.now();
    const batch = await store.bulkActionBatch(action, filter, { after, limit: options.batch_size, reason: options.reason }, now());
    const took = performance.now() - started;
    progress.batches += 1;
    progress.changed += batch.changed.length;
    progress.skipped += batch.skipped.length;
    progress.matched = progress.changed + progress.skipped;
    if (batch.changed.length > 0) afterBatch?.(batch.changed);
    options.onProgress?.({ ...progress });
    if (batch.next === null) break;
    after = batch.next;
    await sleep(Math.min(took, MAX_BULK_PAUSE_MS));
  }
  return { ...progress, dry_run: false };
}
