import {
  EVENT_FEED_LIMITS,
  formatEventCursor,
  isPlainObject,
  matchesEventFeedFilter,
  normalizeEventFeedFilter,
  parseEventCursor,
  parseTaskId,
  ValidationError,
  type EventCursor,
  type EventFeedPage,
  type FeedEvent,
  type TaskId,
  type TaskOutcome,
  type TaskStatus,
  type TaskType,
} from '@taskmill/contracts';
import { decodeEvent, parseJson, type RawRow } from '../codec.js';
import type { StoreReader } from '../statements.js';

/*
 * The event feed's one rule (docs/behaviour.md#event-subscriptions): turn auto-increment event ids
 * into a feed in commit order that never loses an event.
 *
 * Ids are handed out when a row is inserted, not when its transaction commits: on PostgreSQL and
 * MySQL/MariaDB a transaction can take id 100, another 101 and commit first. A reader that went
 * past 101 as soon as it saw it would never see 100. So a missing id (a gap) holds delivery back,
 * but not for ever: ids are also lost for good (rollbacks, a sequence's cache, InnoDB's
 * auto-increment reserving ids in batches for `INSERT … SELECT` under the default
 * `innodb_autoinc_lock_mode` 1, and retention deleting events). The rule:
 *
 * - read `id > high` in id order; before an event whose id is not `high + 1`, hold until that
 *   event's `event_time` (the `now` of its writer, on the database's clock) is
 *   `EVENT_FEED_LIMITS.gap_hold_ms` old: a transaction that took a lower id took it before this
 *   one was written, and has had that long to commit;
 * - then go past the gap, but keep its ids in the cursor for `gap_keep_ms`, and look them up on
 *   every read: one committed that late is delivered then, marked `late` (at least once; its
 *   place in the order is lost, not the event);
 * - the cursor is `high` plus those open gaps: a program that restarts with it misses nothing
 *   the store still holds, and gets nothing at or below `high` again except late fills.
 *
 * A store whose ids are handed out in commit order (SQLite: one writer at a time, and AUTOINCREMENT
 * never reuses an id) says so (`capabilities.orderedEventIds`): there a gap is always a
 * deleted event, and never holds.
 */

function feedEvent(row: RawRow, late: boolean): FeedEvent {
  const name = row.task_name;
  const tag = row.task_tag;
  return { ...decodeEvent(row), task_name: name == null ? null : String(name), task_tag: tag == null ? null : String(tag), late };
}

/** The checked arguments of a feed read: a ValidationError before anything is read. */
export function eventFeedInput(read: unknown): { cursor: EventCursor; filter: ReturnType<typeof normalizeEventFeedFilter>; limit: number; now: number } {
  if (!isPlainObject(read)) throw new ValidationError('readEventFeed expects an object');
  const cursor = read.after === null || read.after === undefined ? { high: 0, gaps: new Map<number, number>() } : parseEventCursor(read.after);
  const filter = normalizeEventFeedFilter(read.filter);
  const limit = read.limit ?? EVENT_FEED_LIMITS.batch;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new ValidationError('Event feed limit must be an integer from 1 to 10000');
  if (typeof read.now !== 'number' || !Number.isFinite(read.now)) throw new ValidationError('Event feed read needs a finite now');
  return { cursor, filter, limit, now: read.now };
}

/** One read of the feed (see above). `ordered`: the store hands ids out in commit order. */
export async function readEventFeed(reader: StoreReader, input: ReturnType<typeof eventFeedInput>, ordered: boolean): Promise<EventFeedPage> {
  const { cursor, filter, limit, now } = input;
  const rows = await reader.selectEventsAfter(cursor.high, limit);
  const gaps = new Map(cursor.gaps);
  const events: FeedEvent[] = [];
  if (gaps.size > 0) {
    const filled = await reader.selectEventsByIds([...gaps.keys()]);
    for (const row of filled.sort((a, b) => Number(a.id) - Number(b.id))) {
      gaps.delete(Number(row.id));
      events.push(feedEvent(row, true));
    }
  }
  let high = cursor.high;
  let heldUntil: number | null = null;
  for (const row of rows) {
    const id = Number(row.id);
    if (id > high + 1 && !ordered) {
      const written = Number(row.event_time);
      if (now - written < EVENT_FEED_LIMITS.gap_hold_ms) {
        heldUntil = written + EVENT_FEED_LIMITS.gap_hold_ms;
        break;
      }
      // a young gap may still fill: keep looking for it (a huge one is deleted events, not transactions)
      if (now - written < EVENT_FEED_LIMITS.gap_keep_ms && id - high - 1 <= EVENT_FEED_LIMITS.max_gaps) {
        for (let gap = high + 1; gap < id; gap++) gaps.set(gap, written);
      }
    }
    events.push(feedEvent(row, false));
    high = id;
  }
  for (const [gap, seen] of gaps) if (now - seen >= EVENT_FEED_LIMITS.gap_keep_ms) gaps.delete(gap);
  if (gaps.size > EVENT_FEED_LIMITS.max_gaps) {
    const oldest = [...gaps.keys()].sort((a, b) => a - b).slice(0, gaps.size - EVENT_FEED_LIMITS.max_gaps);
    for (const gap of oldest) gaps.delete(gap);
  }
  return {
    events: events.filter((event) => matchesEventFeedFilter(event, filter)),
    cursor: formatEventCursor({ high, gaps }),
    more: heldUntil === null && rows.length === limit,
    held_until: heldUntil,
  };
}

/** Task ids a result read may look up: valid ids, distinct (others cannot exist). */
export function outcomeIds(ids: readonly unknown[]): TaskId[] {
  if (!Array.isArray(ids)) throw new ValidationError('getTaskOutcomes expects an array of task ids');
  const out = new Set<TaskId>();
  for (const id of ids) {
    const parsed = parseTaskId(id);
    if (parsed !== null) out.add(parsed);
  }
  return [...out];
}

/** Ids per outcome statement. */
export const OUTCOME_CHUNK = 1_000;

/** The outcomes of these tasks, one statement per {@link OUTCOME_CHUNK} ids (docs/behaviour.md#results). */
export async function taskOutcomes(reader: StoreReader, ids: readonly TaskId[]): Promise<TaskOutcome[]> {
  const out: TaskOutcome[] = [];
  for (let i = 0; i < ids.length; i += OUTCOME_CHUNK) {
    for (const row of await reader.selectTaskOutcomes(ids.slice(i, i + OUTCOME_CHUNK))) {
      const status = String(row.status) as TaskStatus;
      const final = parseJson(row.final_metadata) as Record<string, unknown> | null;
      out.push({
        id: Number(row.id),
        type: String(row.type) as TaskType,
        status,
        result: status === 'completed' ? parseJson(row.result) : null,
        error: row.error == null ? null : String(row.error),
        cancelled: status === 'permanently_failed' && typeof final === 'object' && final !== null && final.cancelled === true,
      });
    }
  }
  return out;
}
