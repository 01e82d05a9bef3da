import { LIMITS, ValidationError, type RetentionStore } from '@taskmill/contracts';
import { positiveMs } from './checks.js';
import { normalizeRetentionPolicy, type NormalizedRetentionRule, type RetentionPolicy } from './policy.js';

/** Tasks per batch (docs/behaviour.md#retention): small enough that one batch's transaction never holds workers up for long. */
export const DEFAULT_BATCH_SIZE = 100;
/** Largest batch accepted: bigger transactions would hold locks (SQLite: the whole file) for too long. */
export const MAX_BATCH_SIZE = 10_000;
/** Time slice of one sweep when none is given. */
export const DEFAULT_TIME_BUDGET_MS = 5000;

/** Rows one run deleted, counting only what this call deleted (a concurrent run's rows are not counted twice). */
export interface RetentionResult {
  tasks_deleted: number;
  events_deleted: number;
  attempts_deleted: number;
}

/** The result of a time-bounded sweep. */
export interface RetentionSweepResult extends RetentionResult {
  /** No rule had expired tasks left when the sweep ended; false when the time slice or `signal` cut it short, or `busy`. */
  finished: boolean;
  /** Only with `exclusive`: another process held the retention lock, so the sweep stopped there. */
  busy?: true;
}

/** Totals so far, after each batch (for a progress display). */
export interface RetentionProgress extends RetentionResult {
  /** Batches run so far. */
  batches: number;
}

/** Options of {@link runRetention}. */
export interface RetentionRunOptions {
  /** Tasks per batch; each batch is its own transaction. (Default: 100) */
  batch_size?: number;
  /** Called after each batch has committed, with the totals so far. (Default: none) */
  onBatch?: (progress: RetentionProgress) => void;
  /**
   * The clock that decides what has expired, in ms since the epoch, read once when the run starts;
   * a rule's own `now` wins. Tasks' times were written on the database's clock, so a TaskManager
   * passes that one: a process whose clock runs ahead would otherwise delete tasks early.
   * (Default: `Date.now`)
   */
  now?: () => number;
}

/** Options of {@link sweepRetention}. */
export interface RetentionSweepOptions extends RetentionRunOptions {
  /** Start no batch after this many ms; a batch under way finishes. (Default: 5000) */
  time_budget_ms?: number;
  /** Start no batch once aborted (e.g. the manager stops). (Default: none) */
  signal?: AbortSignal;
  /**
   * Each batch takes the store's cluster-wide retention lock without waiting, and the sweep stops
   * (`busy`) as soon as another process holds it: one sweeper of a cluster deletes at a time.
   * (Default: false)
   */
  exclusive?: boolean;
}

/**
 * Delete every task the policy expires, with its events and attempts, in bounded batches, each its
 * own transaction, and return the totals. Validates the whole policy first: an invalid one throws
 * a ValidationError and deletes nothing. Needs only a store: usable from an ops script.
 */
export async function runRetention(store: RetentionStore, policy: RetentionPolicy, options: RetentionRunOptions = {}): Promise<RetentionResult> {
  const rules = normalizeRetentionPolicy(policy);
  const { tasks_deleted, events_deleted, attempts_deleted } = await drain(store, rules, {
    limit: batchSize(options.batch_size),
    stop: () => false,
    onBatch: progressCallback(options.onBatch),
    now: clockOption(options.now),
  });
  return { tasks_deleted, events_deleted, attempts_deleted };
}

/**
 * Like {@link runRetention}, but bounded in time: starts no batch once `time_budget_ms` have
 * passed or `signal` aborted, so a periodic sweep never runs on. What is left goes next time.
 */
export async function sweepRetention(store: RetentionStore, policy: RetentionPolicy, options: RetentionSweepOptions = {}): Promise<RetentionSweepResult> {
  const rules = normalizeRetentionPolicy(policy);
  const limit = batchSize(options.batch_size);
  const budget = positiveMs(options.time_budget_ms, 'time_budget_ms') ?? DEFAULT_TIME_BUDGET_MS;
  const deadline = Date.now() + budget;
  const { signal } = options;
  const stop = () => signal?.aborted === true || Date.now() >= deadline;
  return drain(store, rules, { limit, stop, onBatch: progressCallback(options.onBatch), now: clockOption(options.now), exclusive: options.exclusive === true });
}

/** How {@link drain} runs. */
interface DrainOptions {
  limit: number;
  stop: () => boolean;
  onBatch: RetentionRunOptions['onBatch'];
  now: () => number;
  exclusive?: boolean;
}

/**
 * Round-robin over the rules, one batch each in turn, so that a large backlog of one rule (say,
 * a million completed tasks) does not starve the others across time-bounded sweeps.
 */
async function drain(store: RetentionStore, rules: NormalizedRetentionRule[], run: DrainOptions): Promise<RetentionSweepResult> {
  const { limit, stop, onBatch, exclusive = false } = run;
  let batches = 0;
  const result = { tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0, finished: true };
  // the cut-off is on the clock the tasks' times were written on; the time slice (stop) is a
  // duration of this process and stays on the local clock
  const startedAt = run.now();
  // `before` is fixed for the whole run, so tasks that expire while it runs wait for the next run
  // instead of keeping an untimed run going
  let pending = rules.map((rule) => ({ statuses: rule.statuses, before: Math.floor((rule.now ?? startedAt) - rule.expire_time * 1000) }));
  while (pending.length > 0) {
    const again: typeof pending = [];
    for (const rule of pending) {
      if (stop()) return { ...result, finished: false };
      if (batches > 0) {
        // a synchronous store (better-sqlite3) resolves every batch at once: without a turn of the
        // event loop between batches, the claim loop, heartbeats and timers of this process would
        // wait for the whole run
        await new Promise((resolve) => setImmediate(resolve));
        if (stop()) return { ...result, finished: false };
      }
      const input = { statuses: rule.statuses, before: rule.before, limit };
      const batch = await store.purgeExpiredTasks(exclusive ? { ...input, exclusive } : input);
      if (batch.busy === true) return { ...result, finished: false, busy: true };
      result.tasks_deleted += batch.tasks_deleted;
      result.events_deleted += batch.events_deleted;
      result.attempts_deleted += batch.attempts_deleted;
      batches += 1;
      onBatch?.({ tasks_deleted: result.tasks_deleted, events_deleted: result.events_deleted, attempts_deleted: result.attempts_deleted, batches });
      if (batch.has_more) again.push(rule);
    }
    pending = again;
  }
  return result;
}

function progressCallback(value: unknown): RetentionRunOptions['onBatch'] {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new ValidationError('retention onBatch must be a function');
  return value as RetentionRunOptions['onBatch'];
}

function clockOption(value: unknown): () => number {
  if (value === undefined) return () => Date.now();
  if (typeof value !== 'function') throw new ValidationError('retention now must be a function returning ms since the epoch');
  return () => checkedNow((value as () => unknown)());
}

/** What a `now` clock returned, checked like a rule's `now`: a bad clock must not become a cut-off that deletes everything. */
function checkedNow(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > LIMITS.max_time_ms) {
    throw new ValidationError(`retention now() must return a time in ms since the epoch, from 0 to ${LIMITS.max_time_ms}`);
  }
  return value;
}

function batchSize(value: unknown): number {
  if (value === undefined) return DEFAULT_BATCH_SIZE;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_BATCH_SIZE) {
    throw new ValidationError(`retention batch_size must be a positive integer, at most ${MAX_BATCH_SIZE}`);
  }
  return value;
}
