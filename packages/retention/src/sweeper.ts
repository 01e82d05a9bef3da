import type { RetentionStore } from '@taskmill/contracts';
import { positiveMs } from './checks.js';
import { normalizeRetentionPolicy, type NormalizedRetentionRule, type RetentionPolicy } from './policy.js';
import { DEFAULT_TIME_BUDGET_MS, sweepRetention, type RetentionSweepResult } from './run-retention.js';

/** Time between automatic sweeps (SPEC A16). */
export const DEFAULT_RETENTION_INTERVAL_MS = 300_000;

/** Options of a {@link RetentionSweeper}. */
export interface RetentionSweeperOptions {
  /** Ms between sweeps; the first comes a full interval after `start()`. (Default: 300000) */
  interval_ms?: number;
  /** Time slice of one sweep in ms. (Default: the smaller of 5000 and half of `interval_ms`) */
  time_budget_ms?: number;
  /** Tasks per batch. (Default: 100) */
  batch_size?: number;
  /** Receives the errors of sweeps (`where` = `'retention'`); the sweeper carries on. (Default: console.warn) */
  onError?: (error: unknown, where: string) => void;
  /** Called after each sweep with what it deleted. (Default: none) */
  onSweep?: (result: RetentionSweepResult) => void;
}

/**
 * Periodic retention sweeps (SPEC A16): every `interval_ms`, the first a full interval after
 * `start()`, each bounded in time. Sweeps never overlap within one sweeper; several sweepers
 * (one per worker) may run at once, since each batch deletes only rows nobody else deleted and
 * counts only those. TaskManager runs one per started manager; an ops process may run its own.
 */
export class RetentionSweeper {
  private readonly rules: NormalizedRetentionRule[];
  private readonly interval: number;
  private readonly budget: number;
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
    this.interval = positiveMs(options.interval_ms, 'interval_ms') ?? DEFAULT_RETENTION_INTERVAL_MS;
    this.budget = positiveMs(options.time_budget_ms, 'time_budget_ms') ?? Math.min(DEFAULT_TIME_BUDGET_MS, this.interval / 2);
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
    this.running = this.sweepOnce().finally(() => {
      this.running = undefined;
      if (!this.stopped && this.next !== null) this.schedule(this.next);
    });
  }

  private async sweepOnce(): Promise<void> {
    const { batch_size, onError = defaultOnError, onSweep } = this.options;
    try {
      const result = await sweepRetention(this.store, this.rules, { batch_size, time_budget_ms: this.budget, signal: this.abort.signal });
      onSweep?.(result);
    } catch (error) {
      try {
        onError(error, 'retention');
      } catch {
        // a throwing error handler must not end the sweeps
      }
    }
  }
}

function defaultOnError(error: unknown, where: string): void {
  console.warn(`[taskmill] ${where}:`, error instanceof Error ? error.message : error);
}
