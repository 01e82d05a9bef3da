import { isEventType, type EventType } from './event-types.js';
import { ValidationError } from './errors.js';
import { parseTaskId } from './ids.js';
import { knownKeysObject, unknownOption } from './objects.js';
import type { TaskEvent, TaskId } from './records.js';
import type { TaskStatus, TaskType } from './statuses.js';

/*
 * The event feed (docs/behaviour.md#event-subscriptions) and task outcomes (docs/behaviour.md#results):
 * the types the store reads return, the cursor's one reading and the filter's one check. The rule
 * that turns ids into a commit-ordered feed lives once in the store kit (`operations/event-feed.ts`).
 */

/** Bounds of the event feed. */
export const EVENT_FEED_LIMITS = {
  /** Events read per feed read (before filtering). */
  batch: 500,
  /**
   * How long (ms, on the database's clock, from the `event_time` of the first event after it) a
   * missing id holds back delivery past it: the time a transaction that took the id may still
   * take to commit. Stores whose ids are handed out in commit order (SQLite) never hold.
   */
  gap_hold_ms: 1_000,
  /** How long (ms, same clock) a missing id is still looked for after delivery went past it: an event committed that late is delivered with `late: true`. */
  gap_keep_ms: 60_000,
  /** Missing ids a cursor keeps at most (the oldest are dropped first). */
  max_gaps: 1_000,
  /** Longest cursor string accepted. */
  max_cursor_length: 40_000,
  /** Entries of each filter array. */
  max_filter_values: 100,
} as const;

/** Which events a subscription delivers; every given field is ANDed, values of one field ORed. */
export interface EventFeedFilter {
  /** Event types (each one of `EVENT_TYPES`). */
  types?: EventType[];
  /** Task names (the task's `name`; `name_paused`/`name_resumed` match their `metadata.name`). */
  names?: string[];
  /** Task tags. */
  tags?: string[];
  /** A workflow: events whose `root_id` is this id (the root's own events included). */
  root_id?: TaskId;
}

/** An event as the feed delivers it: the audit row, the task's name and tag, and whether it came late. */
export interface FeedEvent extends TaskEvent {
  /** The task's name (null for a task deleted since, and for events of no task). */
  task_name: string | null;
  /** The task's tag (null when it has none, or was deleted). */
  task_tag: string | null;
  /**
   * True when the event committed after the feed had gone past its id (a transaction that took
   * its id before others and committed after them): delivered out of id order, at least once.
   */
  late: boolean;
}

/** One read of the feed (`Store.readEventFeed`). */
export interface EventFeedRead {
  /** Where to go on from: a cursor the feed returned, or null for the beginning of the log. */
  after: string | null;
  /** Which events to return (the cursor moves past the others too). */
  filter?: EventFeedFilter;
  /** Events to read at most, before filtering. (Default: `EVENT_FEED_LIMITS.batch`) */
  limit?: number;
  /** The caller's `now` on the database's clock (docs/behaviour.md#time): judges how long a gap holds. */
  now: number;
}

/** What one feed read returns. */
export interface EventFeedPage {
  /** Matching events, late ones first, then in id (= commit) order. */
  events: FeedEvent[];
  /** The position after this read: pass it as `after` next time. Opaque. */
  cursor: string;
  /** True when more events are ready now (read again at once). */
  more: boolean;
  /** When a missing id holds delivery back, the time (same clock as `now`) to read again; else null. */
  held_until: number | null;
}

/** A task's status as a result waiter needs it (`Store.getTaskOutcomes`). */
export interface TaskOutcome {
  id: TaskId;
  type: TaskType;
  status: TaskStatus;
  /** The stored result (decoded JSON). */
  result: unknown;
  error: string | null;
  /** True when the task is `permanently_failed` because it was cancelled. */
  cancelled: boolean;
}

/** A decoded feed cursor: the highest id delivered in order, and the missing ids below it still looked for. */
export interface EventCursor {
  high: number;
  /** Missing id → when it was first seen missing (ms, database clock: the next event's `event_time`). */
  gaps: Map<number, number>;
}

const CURSOR_PREFIX = 'tm1.';

/** The cursor's text: `tm1.<high>` and, with open gaps, `.<id>~<seen>,…`. */
export function formatEventCursor(cursor: EventCursor): string {
  const base = `${CURSOR_PREFIX}${cursor.high}`;
  if (cursor.gaps.size === 0) return base;
  const gaps = [...cursor.gaps].sort((a, b) => a[0] - b[0]).map(([id, seen]) => `${id}~${seen}`);
  return `${base}.${gaps.join(',')}`;
}

/** The one reading of a cursor string; anything else is a ValidationError (nothing read, nothing written). */
export function parseEventCursor(value: unknown): EventCursor {
  const bad = (why: string) => new ValidationError(`Invalid event cursor: ${why}`);
  if (typeof value !== 'string') throw bad('expected a string returned by the feed');
  if (value.length > EVENT_FEED_LIMITS.max_cursor_length) throw bad('too long');
  const match = /^tm1\.(0|[1-9][0-9]{0,15})(?:\.((?:[1-9][0-9]{0,15}~(?:0|[1-9][0-9]{0,15}),)*[1-9][0-9]{0,15}~(?:0|[1-9][0-9]{0,15})))?$/.exec(value);
  if (!match) throw bad('not a cursor returned by the feed');
  const high = Number(match[1]);
  if (!Number.isSafeInteger(high)) throw bad('position out of range');
  const gaps = new Map<number, number>();
  if (match[2]) {
    const parts = match[2].split(',');
    if (parts.length > EVENT_FEED_LIMITS.max_gaps) throw bad('too many gaps');
    for (const part of parts) {
      const [id, seen] = part.split('~').map(Number);
      if (!Number.isSafeInteger(id) || !Number.isSafeInteger(seen) || id >= high || gaps.has(id)) throw bad('inconsistent gaps');
      gaps.set(id, seen);
    }
  }
  return { high, gaps };
}

/** The one check of a feed filter: a ValidationError names the bad key or value. Returns a clean copy. */
export function normalizeEventFeedFilter(value: unknown): EventFeedFilter {
  const raw = knownKeysObject(value, ['types', 'names', 'tags', 'root_id'], { notObject: 'Event filter must be an object', unknownKey: unknownOption('event filter') }, ValidationError, {
    optional: true,
  });
  const out: EventFeedFilter = {};
  const list = (key: string, check: (v: unknown) => boolean, what: string): unknown[] | undefined => {
    const v = raw[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length === 0) throw new ValidationError(`Event filter "${key}" must be a non-empty array`);
    if (v.length > EVENT_FEED_LIMITS.max_filter_values) throw new ValidationError(`Event filter "${key}" has more than ${EVENT_FEED_LIMITS.max_filter_values} values`);
    for (const item of v) if (!check(item)) throw new ValidationError(`Event filter "${key}" has ${what}: ${JSON.stringify(item) ?? String(item)}`);
    return [...new Set(v)];
  };
  const text = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= 255;
  const types = list('types', isEventType, 'an unknown event type');
  if (types) out.types = types as EventType[];
  const names = list('names', text, 'a value that is not a non-empty string of at most 255 characters');
  if (names) out.names = names as string[];
  const tags = list('tags', text, 'a value that is not a non-empty string of at most 255 characters');
  if (tags) out.tags = tags as string[];
  if (raw.root_id !== undefined) {
    const id = parseTaskId(raw.root_id);
    if (id === null) throw new ValidationError(`Event filter "root_id" must be a task id, got ${JSON.stringify(raw.root_id) ?? String(raw.root_id)}`);
    out.root_id = id;
  }
  return out;
}

/** Whether a feed event passes the filter (in the store kit, after the read: see docs/behaviour.md#event-subscriptions). */
export function matchesEventFeedFilter(event: FeedEvent, filter: EventFeedFilter): boolean {
  if (filter.types && !filter.types.includes(event.event_type)) return false;
  if (filter.root_id !== undefined && event.root_id !== filter.root_id) return false;
  if (filter.names) {
    const name = event.task_name ?? (event.task_id === 0 && typeof event.metadata?.name === 'string' ? event.metadata.name : null);
    if (name === null || !filter.names.includes(name)) return false;
  }
  if (filter.tags && (event.task_tag === null || !filter.tags.includes(event.task_tag))) return false;
  return true;
}
