import {
  LifecycleError,
  ResultTimeoutError,
  TaskCancelledError,
  TaskFailedError,
  TaskNotAwaitableError,
  TaskNotFoundError,
  type Store,
  type TaskId,
  type TaskOutcome,
} from '@taskmill/contracts';

/*
 * How result waiters and event subscriptions of one process learn that something committed
 * (docs/behaviour.md#results): one probe of the newest event id (`store.latestEventId()`, the
 * last entry of the events' primary key) every `event_poll_interval` ms while any waiter or
 * subscription exists, for all of them. Every change to a task writes an event in its
 * transaction, so a finish moves the newest id. When it moved, one batched read of every waited
 * id (`getTaskOutcomes`, one statement per 1,000 ids) settles the waiters, and the subscriptions
 * are told to read their feed. It is the MariaDB store's wake-up probe (docs/behaviour.md#wake-ups)
 * applied to every store: PostgreSQL's NOTIFY is sent only when a task becomes due, and sending
 * one at every finish would add to the finish's round trip for every task, waited for or not.
 *
 * A transaction that took a lower id and commits after a higher one does not move the newest id;
 * every `poll_interval` ms the waiters are read anyway, so such a finish is seen by then.
 */

/** What a {@link EventWatch} needs of its manager. */
export interface EventWatchParts {
  /** The store, ready (schema set up, clock set). */
  store(): Promise<Store>;
  /** ms between probes. */
  interval: number;
  /** ms between reads of the waiters (and wake-ups of the subscriptions) even when the newest id stands still. */
  fallback: number;
  onError(error: unknown, where: string): void;
}

interface Waiter {
  id: TaskId;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** Read at least once since it was added. */
  seen: boolean;
  /** Its timeout expired (rejected as soon as it has been read once and is not final). */
  expired: boolean;
  timeout: number | null;
  timer?: NodeJS.Timeout;
}

/** Something woken when the newest event id moves (an event subscription). */
export interface WatchListener {
  changed(): void;
}

/** One manager's probe, its result waiters and its subscriptions' wake-ups. */
export class EventWatch {
  private readonly waiters = new Map<TaskId, Set<Waiter>>();
  private readonly listeners = new Set<WatchListener>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private latest: number | null = null;
  private lastRead = 0;
  /** New waiters that have not been read yet: the next tick reads at once. */
  private fresh = false;
  private closed = false;

  constructor(private readonly parts: EventWatchParts) {}

  /** Statements-per-tick figures for tests and docs: probes and outcome reads made so far. */
  readonly counts = { probes: 0, outcomeReads: 0 };

  /** Wait for a task's result (validated by the caller). `timeout` in seconds, or null: no limit. */
  wait(id: TaskId, timeout: number | null): Promise<unknown> {
    if (this.closed) return Promise.reject(new LifecycleError('TaskManager is stopped'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { id, resolve, reject, seen: false, expired: false, timeout };
      if (timeout !== null) {
        const deadline = performance.now() + timeout * 1000;
        const arm = () => {
          const left = deadline - performance.now();
          // setTimeout holds at most 2^31 - 1 ms (24.8 days); longer waits re-arm
          if (left > 0) return void (waiter.timer = setTimeout(arm, Math.min(left, 2 ** 31 - 1)));
          waiter.expired = true;
          if (waiter.seen) return this.settle(waiter, new ResultTimeoutError(id, timeout));
          // not read yet (a first read still under way, or the store unreachable): the next read
          // answers, and a wait the store cannot answer still ends a poll interval later
          waiter.timer = setTimeout(() => this.settle(waiter, new ResultTimeoutError(id, timeout)), this.parts.fallback);
        };
        arm();
      }
      let set = this.waiters.get(id);
      if (!set) this.waiters.set(id, (set = new Set()));
      set.add(waiter);
      this.fresh = true;
      this.schedule(0);
    });
  }

  /** Wake `listener` whenever the newest event id moves (and every `fallback` ms); returns the removal. */
  listen(listener: WatchListener): () => void {
    this.listeners.add(listener);
    this.schedule(0);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Reject every waiter and stop probing (the manager stopped). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (const set of this.waiters.values()) for (const waiter of set) this.settle(waiter, new LifecycleError('TaskManager is stopped'));
    this.waiters.clear();
    this.listeners.clear();
    await this.running?.catch(() => undefined);
  }

  /** Waiters currently waiting (for tests). */
  get waiting(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  private get active(): boolean {
    return !this.closed && (this.waiters.size > 0 || this.listeners.size > 0);
  }

  private schedule(delay: number): void {
    if (this.running || !this.active) return;
    if (delay === 0) clearTimeout(this.timer);
    else if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule(this.fresh ? 0 : this.parts.interval);
      });
    }, delay);
    // not unref'd: a process that only waits for a result must stay alive until it comes
  }

  private async tick(): Promise<void> {
    let store: Store;
    try {
      store = await this.parts.store();
    } catch (error) {
      this.parts.onError(error, 'result-watch');
      return;
    }
    let moved = false;
    try {
      this.counts.probes++;
      const latest = await store.latestEventId();
      moved = this.latest !== null && latest !== this.latest;
      this.latest = latest;
    } catch (error) {
      this.parts.onError(error, 'result-watch');
      return;
    }
    const due = performance.now() - this.lastRead >= this.parts.fallback;
    if (due) this.lastRead = performance.now();
    if (moved || due) for (const listener of [...this.listeners]) listener.changed();
    if (this.waiters.size === 0 || !(moved || due || this.fresh)) return;
    this.fresh = false;
    const ids = [...this.waiters.keys()];
    const reading = new Set<Waiter>();
    for (const set of this.waiters.values()) for (const waiter of set) reading.add(waiter);
    let outcomes: TaskOutcome[];
    try {
      this.counts.outcomeReads += Math.ceil(ids.length / 1000);
      outcomes = await store.getTaskOutcomes(ids);
    } catch (error) {
      this.parts.onError(error, 'result-watch');
      return;
    }
    const byId = new Map(outcomes.map((o) => [o.id, o]));
    for (const id of ids) {
      const set = this.waiters.get(id);
      if (!set) continue;
      const outcome = byId.get(id);
      for (const waiter of [...set]) {
        if (!reading.has(waiter)) continue;
        waiter.seen = true;
        const ending = this.ending(id, outcome);
        if (ending) this.settle(waiter, ending.error, ending.value);
        else if (waiter.expired) this.settle(waiter, new ResultTimeoutError(id, waiter.timeout ?? 0));
      }
    }
  }

  /** What a waiter gets for this outcome: a value, an error, or null (keep waiting). */
  private ending(id: TaskId, outcome: TaskOutcome | undefined): { error?: Error; value?: unknown } | null {
    if (!outcome) return { error: new TaskNotFoundError(id) };
    if (outcome.type === 'cron') return { error: new TaskNotAwaitableError(id, 'a cron task never finishes (each run goes back to pending)') };
    if (outcome.status === 'completed') return { value: outcome.result };
    if (outcome.status === 'permanently_failed') {
      return { error: outcome.cancelled ? new TaskCancelledError(id, outcome.error) : new TaskFailedError(id, outcome.error) };
    }
    return null;
  }

  private settle(waiter: Waiter, error: Error | undefined, value?: unknown): void {
    clearTimeout(waiter.timer);
    const set = this.waiters.get(waiter.id);
    if (set) {
      set.delete(waiter);
      if (set.size === 0) this.waiters.delete(waiter.id);
    }
    if (error) waiter.reject(error);
    else waiter.resolve(value);
  }
}
