import type { Store } from '@taskmill/contracts';
import { settlesWithin } from './bounded-waits.js';
import type { Clock } from './db-clock.js';
import type { WakeSignal } from './wake-signal.js';

/** Timed waits ended per store call; a full batch is followed by another at once. */
const WAKE_BATCH = 100;
/** When the earliest wait is already due yet was not ended (another worker holds its row), look again after this long. */
const BUSY_RETRY_MS = 100;
/** setTimeout's longest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Ends timed waits on time (docs/behaviour.md#durable-sleep): a sleep that is due, a signal wait
 * whose timeout passed. Every worker sweeps them with its maintenance (`sweep`), and each sweep
 * (like each sleep this process writes, `at`) tells it the earliest wait still pending, so it sets
 * one timer for exactly then: a wait ends within a few milliseconds of its due time in any process
 * that knows of it, and within one maintenance interval in every other one (a process that started
 * after the sleep was written learns of it at its first sweep). Each end is a guarded
 * compare-and-set in the store, so every worker may do this at once.
 */
export class TimedWaits {
  private timer: NodeJS.Timeout | undefined;
  private dueAt = Number.POSITIVE_INFINITY;
  private stopped = false;
  /** Sweeps started in the background (by the timer, at start), still under way. */
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly wake: WakeSignal,
    private readonly onError: (error: unknown, where: string) => void,
  ) {}

  /** A wait ends at `time` (ms, database clock): sweep then. Keeps only the earliest such time. */
  at(time: number): void {
    if (this.stopped || time >= this.dueAt) return;
    clearTimeout(this.timer);
    this.dueAt = time;
    const delay = Math.min(Math.max(0, time - this.clock.now()), MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      this.dueAt = Number.POSITIVE_INFINITY;
      this.sweepInBackground();
    }, delay);
    this.timer.unref?.();
  }

  /** A sweep nobody awaits (the timer's, the one at start): errors reported, `stop()` lets it finish. */
  sweepInBackground(): void {
    const sweep: Promise<void> = this.sweep()
      .catch((error) => this.onError(error, 'wakeDueTasks'))
      .finally(() => this.inflight.delete(sweep));
    this.inflight.add(sweep);
  }

  /** End the waits due now, wake this process's claim loop for them, and set the timer for the next. */
  async sweep(): Promise<void> {
    if (this.stopped) return;
    const now = this.clock.now();
    const { woken, next_wake_at } = await this.store.wakeDueTasks({ now, limit: WAKE_BATCH });
    if (woken.length > 0) this.wake.wake();
    if (woken.length >= WAKE_BATCH) this.at(now);
    else if (next_wake_at !== null) this.at(next_wake_at <= now ? now + BUSY_RETRY_MS : next_wake_at);
  }

  /**
   * On stop: clear the timer and let a background sweep finish (at most `boundMs`: a store call
   * that never settles must not hang `stop()`), so none runs on a closed store.
   */
  async stop(boundMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.inflight.size > 0) await settlesWithin(Promise.all(this.inflight), boundMs);
  }
}
