import type { Store } from '@taskmill/contracts';

/** The time on the database's clock, as this process best knows it. */
export interface Clock {
  /** ms since the epoch on the database's clock. */
  now(): number;
}

/** A process clock this far from the database's is reported through `onError`. */
export const CLOCK_SKEW_WARNING_MS = 1000;
/** Readings kept: the offset is the one read with the shortest round trip among them. */
const KEPT_READINGS = 8;
/** Readings taken at the first measurement, so that one slow round trip does not set the offset. */
const FIRST_READINGS = 3;
/** Without a worker's heartbeats to refresh it, the offset is measured again this often. */
const REFRESH_AFTER_MS = 60_000;

/**
 * One clock for every process (see docs/failure-model.md, "Clocks"). Leases, heartbeats, due
 * times, retry times and timeouts are compared across processes, so every `now` this process
 * passes to the store is the database's time: the local clock plus an offset measured against the
 * server (`store.serverTime()`, taking the middle of the round trip), refreshed at each worker
 * heartbeat, or after a minute by a manager that only enqueues. A reading is off by at most half
 * its round trip, so of the last few readings the one with the shortest round trip sets the
 * offset; a reading that cannot agree with it (their error bounds do not overlap) means the local
 * clock jumped, and the readings start over from it. Durations measured inside this
 * process (a handler's own timeout, a tick's age) stay on the local clock, which skew cannot bend.
 *
 * A process whose clock is more than a second off is reported once through `onError` (and again
 * when it comes back within the bound and drifts off again), so an operator can fix its time
 * service; its work is correct meanwhile.
 */
export class DbClock implements Clock {
  private offset = 0;
  private measuredAt: number | undefined;
  /** Recent readings: offset (database minus local) and the round trip it was read in, ms. */
  private readings: Array<{ offset: number; roundTrip: number }> = [];
  private refreshing: Promise<void> | undefined;
  private warned = false;
  private store: Store | undefined;

  constructor(private readonly onError: (error: unknown, where: string) => void) {}

  /** The database's time now, as far as this process knows it; starts a refresh when the offset is old. */
  now(): number {
    const local = Date.now();
    if (this.store && this.measuredAt !== undefined && performance.now() - this.measuredAt > REFRESH_AFTER_MS) {
      void this.sync(this.store).catch((error) => this.onError(error, 'clock'));
    }
    return local + this.offset;
  }

  /** True once an offset has been measured. */
  get synced(): boolean {
    return this.measuredAt !== undefined;
  }

  /** The offset last measured (database minus local), in ms. */
  get skew(): number {
    return this.offset;
  }

  /**
   * Measure the offset against `store`'s clock (one statement); concurrent calls share one reading.
   * A failed reading leaves the last offset in place and rejects.
   */
  sync(store: Store): Promise<void> {
    if (typeof store.serverTime !== 'function') return Promise.resolve(); // a store written before the contract had it
    this.store = store;
    this.refreshing ??= this.measure(store).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async measure(store: Store): Promise<void> {
    const count = this.readings.length === 0 ? FIRST_READINGS : 1;
    for (let n = 0; n < count; n++) this.keep(await this.read(store));
    const best = this.readings.reduce((a, b) => (b.roundTrip < a.roundTrip ? b : a));
    // within the reading's own uncertainty (half its round trip, and a millisecond of each clock's
    // resolution) the clocks agree: correcting by the noise would only move times by a millisecond
    this.offset = Math.abs(best.offset) <= best.roundTrip / 2 + 1 ? 0 : Math.round(best.offset);
    this.measuredAt = performance.now();
    this.report();
  }

  private async read(store: Store): Promise<{ offset: number; roundTrip: number }> {
    const sentAt = Date.now();
    const started = performance.now();
    const server = await store.serverTime();
    const roundTrip = performance.now() - started;
    return { offset: server - (sentAt + roundTrip / 2), roundTrip };
  }

  /** Keep a reading; one whose error bounds miss another's means the local clock jumped: start over from it. */
  private keep(reading: { offset: number; roundTrip: number }): void {
    const jumped = this.readings.some((r) => Math.abs(r.offset - reading.offset) > (r.roundTrip + reading.roundTrip) / 2 + 2);
    if (jumped) this.readings = [];
    this.readings.push(reading);
    if (this.readings.length > KEPT_READINGS) this.readings.shift();
  }

  private report(): void {
    const off = Math.abs(this.offset) > CLOCK_SKEW_WARNING_MS;
    if (off && !this.warned) {
      const side = this.offset < 0 ? 'ahead of' : 'behind';
      this.onError(
        new Error(
          `This process's clock is ${Math.abs(this.offset)} ms ${side} the database's; taskmill corrects every time it writes by this offset, but the host's time service needs fixing`,
        ),
        'clock',
      );
    }
    this.warned = off;
  }
}
