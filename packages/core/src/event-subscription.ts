import {
  isPlainObject,
  knownKeysObject,
  normalizeEventFeedFilter,
  parseEventCursor,
  unknownOption,
  ValidationError,
  type EventFeedFilter,
  type FeedEvent,
  type Store,
} from '@taskmill/contracts';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Clock } from './db-clock.js';
import type { EventWatch, WatchListener } from './event-watch.js';

/*
 * Event subscriptions (docs/behaviour.md#event-subscriptions): a loop per subscription that reads
 * the store's event feed from its cursor, hands each batch to the handler, and only then moves
 * the cursor — at least once. It reads when the newest event id moved (the process's one probe,
 * event-watch.ts), when a held gap's time is up, and every `poll_interval` ms. The commit-order
 * rule itself is the store kit's (`readEventFeed`).
 */

/** Options of `subscribe()`: a filter (every given field ANDed), and where to start. */
export interface SubscribeOptions extends EventFeedFilter {
  /** A cursor a batch carried (or `subscription.cursor`): go on after it. */
  after?: string;
  /** Where to start without `after`: `'now'` (events that commit from now on) or `'beginning'` (every event kept). (Default: `'now'`) */
  from?: 'now' | 'beginning';
}

/** What the handler receives: matching events in commit order (late ones first, marked), and the cursor after them. */
export interface EventBatch {
  events: FeedEvent[];
  /** Save it once the batch is handled: `subscribe({after: cursor}, …)` resumes after it. */
  cursor: string;
}

/** Called with each batch, one at a time; a throw (or rejection) is reported through `onError` and the batch is delivered again. */
export type EventHandler = (batch: EventBatch) => void | Promise<void>;

/** A running subscription. */
export interface EventSubscription {
  /** The cursor after the last batch handled (or read, when the events read matched nothing). */
  readonly cursor: string;
  /** True once closed. */
  readonly closed: boolean;
  /** Stop reading; resolves once a batch being handled has returned. */
  close(): Promise<void>;
}

const KEYS = ['types', 'names', 'tags', 'root_id', 'after', 'from'] as const;

/** The checked options: a ValidationError (nothing read) for anything else. */
export function subscribeInput(options: unknown, handler: unknown): { filter: EventFeedFilter; after: string | null; from: 'now' | 'beginning' } {
  if (typeof handler !== 'function') throw new ValidationError('subscribe() needs a handler function');
  if (options !== undefined && !isPlainObject(options)) throw new ValidationError('subscribe options must be an object');
  const opts = knownKeysObject(options ?? {}, KEYS, { notObject: 'subscribe options must be an object', unknownKey: unknownOption('subscribe') }, ValidationError);
  const { after, from, ...filter } = opts;
  if (after !== undefined) parseEventCursor(after);
  if (from !== undefined && from !== 'now' && from !== 'beginning') throw new ValidationError(`subscribe option "from" must be 'now' or 'beginning'`);
  if (after !== undefined && from !== undefined) throw new ValidationError('subscribe takes "after" or "from", not both');
  return { filter: normalizeEventFeedFilter(filter), after: (after as string | undefined) ?? null, from: (from as 'now' | 'beginning' | undefined) ?? 'now' };
}

/** The subscription whose handler is running, in its async context. */
const INSIDE_HANDLER = new AsyncLocalStorage<Subscription>();

/** Longest wait between two deliveries of a batch whose handler keeps failing. */
const MAX_BACKOFF_MS = 30_000;

/** One subscription's loop. */
export class Subscription implements EventSubscription, WatchListener {
  private current: string;
  private done = false;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private loop: Promise<void> | undefined;
  private unlisten: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly filter: EventFeedFilter,
    cursor: string,
    private readonly handler: EventHandler,
    private readonly clock: Clock,
    private readonly watch: EventWatch,
    private readonly pollInterval: number,
    private readonly onError: (error: unknown, where: string) => void,
    private readonly onClose: (subscription: Subscription) => void,
  ) {
    this.current = cursor;
  }

  get cursor(): string {
    return this.current;
  }

  get closed(): boolean {
    return this.done;
  }

  start(): void {
    this.unlisten = this.watch.listen(this);
    this.loop = this.run();
  }

  changed(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  async close(): Promise<void> {
    if (!this.done) {
      this.done = true;
      this.unlisten?.();
      this.onClose(this);
      this.wakeUp?.();
    }
    // from inside its own handler, waiting for the loop (which awaits the handler) would never end
    if (INSIDE_HANDLER.getStore() !== this) await this.loop;
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || this.done) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        this.wakeUp = undefined;
        this.woken = false;
        done();
      };
    });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.done) {
      this.woken = false;
      let page;
      try {
        page = await this.store.readEventFeed({ after: this.current, filter: this.filter, now: this.clock.now() });
      } catch (error) {
        this.onError(error, 'subscription');
        await this.sleep(Math.min(MAX_BACKOFF_MS, this.pollInterval * 2 ** Math.min(failures++, 10)));
        continue;
      }
      failures = 0;
      if (page.events.length > 0) {
        for (;;) {
          try {
            const batch = { events: page.events, cursor: page.cursor };
            await INSIDE_HANDLER.run(this, () => this.handler(batch));
            break;
          } catch (error) {
            this.onError(error, 'subscription handler');
            // a full backoff: wake-ups of new events do not shorten it, only close() does
            const until = performance.now() + Math.min(MAX_BACKOFF_MS, this.pollInterval * 2 ** Math.min(failures++, 10));
            while (!this.done && performance.now() < until) await this.sleep(until - performance.now());
            if (this.done) return;
          }
        }
        failures = 0;
      }
      this.current = page.cursor;
      if (page.more) continue;
      const wait = page.held_until === null ? this.pollInterval : Math.max(1, Math.min(this.pollInterval, page.held_until - this.clock.now()));
      await this.sleep(wait);
    }
  }
}
