import type { Clock } from './db-clock.js';

/**
 * Lets the claim loop sleep until either a timeout or a wake-up (an enqueue in this process, a
 * freed slot, a NOTIFY). A wake that arrives while nobody sleeps is remembered, so it is never lost.
 */
export class WakeSignal {
  /** `clock` is the one `wakeAt` times are on: the database's (see db-clock.ts). */
  constructor(private readonly clock: Clock) {}

  private pending = false;
  private release: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private dueAt = Number.POSITIVE_INFINITY;

  /** Wake the sleeper now (or make the next `wait` return at once). */
  wake(): void {
    this.pending = true;
    this.release?.();
  }

  /** Wake the sleeper at `time` (ms epoch); keeps only the earliest such alarm. */
  wakeAt(time: number): void {
    const delay = time - this.clock.now();
    if (delay <= 0) return this.wake();
    if (time >= this.dueAt) return;
    // beyond setTimeout's range the regular poll picks the task up anyway
    if (delay > 2 ** 31 - 1) return;
    clearTimeout(this.timer);
    this.dueAt = time;
    this.timer = setTimeout(() => {
      this.dueAt = Number.POSITIVE_INFINITY;
      this.wake();
    }, delay);
    this.timer.unref?.();
  }

  /** Sleep up to `ms`, or less if woken. */
  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.release = undefined;
        this.pending = false;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.release = done;
    });
  }

  /** Cancel the alarm timer (on stop). */
  dispose(): void {
    clearTimeout(this.timer);
    this.dueAt = Number.POSITIVE_INFINITY;
    this.wake();
  }
}
