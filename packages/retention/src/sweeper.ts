import { ValidationError, type RetentionStore } from '@taskmill/contracts';
import { positiveMs } from './checks.js';
import { normalizeRetentionPolicy, type NormalizedRetentionRule, type RetentionPolicy } from './policy.js';
import { sweepRetention, type RetentionSweepResult } from './run-retention.js';

/** Time between automatic sweeps while none finds expired tasks (docs/behaviour.md#retention). */
export const DEFAULT_RETENTION_INTERVAL_MS = 300_000;
/** Longest time slice of one automatic sweep when none is given. */
export const DEFAULT_SWEEP_BUDGET_MS = 1000;
/** Pause after a sweep that left expired tasks, as a multiple of its time slice, when none is given. */
export const DEFAULT_SWEEP_PAUSE_FACTOR = 2;

/** Options of a {@link RetentionSweeper}. */
export interface RetentionSweeperOptions {
  /**
   * Ms from a sweep that left no expired task (or met another process sweeping) to the next one;
   * the first sweep comes a full interval after `start()`. (Default: 300000)
   */
  interval_ms?: number;
  /** Time slice of one sweep in ms: it starts no batch after it. (Default: the smaller of 1000 and half of `interval_ms`) */
  time_budget_ms?: number;
  /**
   * Ms from a sweep that left expired tasks (its time slice ran out) to the next one, at most
   * `interval_ms`: a backlog is swept at most `time_budget_ms` of every `time_budget_ms + pause_ms`,
   * and the workers have the database to themselves in between. (Default: twice `time_budget_ms`)
   */
  pause_ms?: number;
  /** Tasks per batch. (Default: 100) */
  batch_size?: number;
  /** Receives the errors of sweeps (`where` = `'retention'`); the sweeper carries on. (Default: console.warn) */
  onError?: (error: unknown, where: string) => void;
  /** Called after each sweep with what it deleted. (Default: none) */
  onSweep?: (result: RetentionSweepResult) => void;
  /**
   * The clock that decides what has expired (ms since the epoch), read when each sweep starts.
   * Tasks' times are written on the database's clock, so a TaskManager passes its database clock:
   * a process whose clock runs ahead would otherwise delete tasks early. Timers and time slices
   * stay on the local clock. (Default: `Date.now`)
   */
  now?: () => number;
}

/** When a {@link RetentionSweeper} sweeps, its defaults filled in. */
export interface SweepTiming {
  interval_ms: number;
  time_budget_ms: number;
  pause_ms: number;
}

/**
 * The interval, time slice and pause a {@link RetentionSweeper} with these options uses (each
 * validated; a ValidationError names a bad one), e.g. for a TaskManager to report its resolved options.
 */
export function resolveSweepTiming(options: Pick<RetentionSweeperOptions, 'interval_ms' | 'time_budget_ms' | 'pause_ms'> = {}): SweepTiming {
  const interval = positiveMs(options.interval_ms, 'interval_ms') ?? DEFAULT_RETENTION_INTERVAL_MS;
  const budget = positiveMs(options.time_budget_ms, 'time_budget_ms') ?? Math.min(DEFAULT_SWEEP_BUDGET_MS, interval / 2);
  const pause = Math.min(interval, positiveMs(options.pause_ms, 'pause_ms') ?? DEFAULT_SWEEP_PAUSE_FACTOR * budget);
  return { interval_ms: interval, time_budget_ms: budget, pause_ms: pause };
}

/**
 * Automatic retention sweeps (docs/behaviour.md#retention), the first a full interval after `start()`, each bounded
 * in time. While expired tasks remain, sweeps follow each other `pause_ms` apart (a duty cycle of
 * `time_budget_ms` in `time_budget_ms + pause_ms`), so deletion keeps up with a busy system; once
 * a sweep finds nothing left, the next waits `interval_ms`. Each batch takes the store's
 * cluster-wide retention lock without waiting, and a sweep that finds it held stops and waits the
 * interval: of several sweepers (one per worker) one deletes at a time, instead of every worker
 * adding its deletes to the database's load and contending on the same rows. Sweeps never
 * overlap within one sweeper. TaskManager runs one per started manager; an ops process may run
 * its own.
 */
export class RetentionSweeper {
  private readonly rules: NormalizedRetentionRule[];
  private readonly interval: number;
  private readonly budget: number;
  private readonly pause: number;
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private next: number | null = null;
  private stopped = false;

  constructor(
    private readonly store: RetentionStore,
    policy: RetentionPolicy,
    private readonly options: RetentionSweeperOptions = {},
  ) {
    this.rules = normalizeRetentionPolicy(policy);
    const timing = resolveSweepTiming(options);
    this.interval = timing.interval_ms;
    this.budget = timing.time_budget_ms;
    this.pause = timing.pause_ms;
    if (options.now !== undefined && typeof options.now !== 'function') throw new ValidationError('retention now must be a function returning ms since the epoch');
  }

  /** When the next sweep is due (ms since the epoch); null before `start()`, after `stop()`, or when the policy deletes nothing. */
  get nextSweepAt(): number | null {
    return this.next;
  }

  /** Schedule the first sweep a full interval from now. A policy that deletes nothing schedules nothing. */
  start(): void {
    if (this.stopped || this.rules.length === 0 || this.next !== null) return;
    this.schedule(Date.now() + this.interval);
  }

  /** Push the next sweep a full interval away, e.g. because a manual run just drained everything. */
  postpone(): void {
    if (this.stopped || this.next === null) return;
    this.schedule(Date.now() + this.interval);
  }

  /** Cancel future sweeps; a sweep under way starts no further batch and is awaited. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.next = null;
    clearTimeout(this.timer);
    this.abort.abort();
    await this.running;
  }

  private schedule(at: number): void {
    this.next = at;
    clearTimeout(this.timer);
    // a sweep under way reschedules itself when it ends, from `next`
    if (this.running) return;
    this.timer = setTimeout(() => this.sweep(), Math.max(0, at - Date.now()));
    this.timer.unref?.();
  }

  private sweep(): void {
    if (this.stopped) return;
    this.next = Date.now() + this.interval;
    const due = this.next;
    this.running = this.sweepOnce().then(
      (backlog) => {
        this.running = undefined;
        if (this.stopped || this.next === null) return;
        // expired tasks remain: come back after the pause, unless postpone() moved the sweep meanwhile
        this.schedule(backlog && this.next === due ? Date.now() + this.pause : this.next);
      },
    );
  }

  /** One sweep; true when it left expired tasks behind and this sweeper should come back soon. */
  private async sweepOnce(): Promise<boolean> {
    const { batch_size, onError = defaultOnError, onSweep, now } = this.options;
    try {
      const result = await sweepRetention(this.store, this.rules, {
        batch_size,
        now,
        time_budget_ms: this.budget,
        signal: this.abort.signal,
        exclusive: true,
      });
      try {
        onSweep?.(result);
      } catch (error) {
        report(onError, error);
      }
      return !result.finished && result.busy !== true;
    } catch (error) {
      report(onError, error);
      return false;
    }
  }
}

function report(onError: (error: unknown, where: string) => void, error: unknown): void {
  try {
    onError(error, 'retention');
  } catch {
    // a throwing error handler must not end the sweeps
  }
}

function defaultOnError(error: unknown, where: string): void {
  console.warn(`[taskmill] ${where}:`, error instanceof Error ? error.message : error);
}
