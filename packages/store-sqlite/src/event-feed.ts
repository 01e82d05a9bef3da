import type { TaskId } from '@taskmill/contracts';
import { TABLES, type RawRow } from '@taskmill/store-kit';
import type { SqliteConnection } from './connection.js';

/*
 * The event feed's and result waiters' reads (docs/behaviour.md#event-subscriptions,
 * docs/behaviour.md#results): primary-key reads. One writer at a time and AUTOINCREMENT make event
 * ids commit-ordered here, so the feed never holds at a gap (`capabilities.orderedEventIds`).
 */

const E = TABLES.events;
const T = TABLES.tasks;
const FEED = `SELECT e.*, t.name AS task_name, t.tag AS task_tag FROM ${E} AS e LEFT JOIN ${T} AS t ON t.id = e.task_id`;

/** Events after `after` by id, with their task's name and tag. */
export function selectEventsAfter(sql: SqliteConnection, after: number, limit: number): RawRow[] {
  return sql.all(`${FEED} WHERE e.id > ? ORDER BY e.id LIMIT ?`, after, limit);
}

/** Events of these ids, with their task's name and tag. */
export function selectEventsByIds(sql: SqliteConnection, ids: readonly number[]): RawRow[] {
  if (ids.length === 0) return [];
  return sql.all(`${FEED} WHERE e.id IN (SELECT value FROM json_each(?))`, JSON.stringify(ids));
}

/** The highest event id (the primary key's last entry), or 0. */
export function selectMaxEventId(sql: SqliteConnection): number {
  const row = sql.get(`SELECT COALESCE(MAX(id), 0) AS id FROM ${E}`);
  return Number(row?.id ?? 0);
}

/** What a result waiter needs of these tasks; a permanently failed task's last failure event says whether it was cancelled. */
export function selectTaskOutcomes(sql: SqliteConnection, ids: readonly TaskId[]): RawRow[] {
  if (ids.length === 0) return [];
  return sql.all(
    `SELECT t.id, t.type, t.status, t.result, t.error,
      CASE WHEN t.status = 'permanently_failed' THEN (
        SELECT e.metadata FROM ${E} AS e
        WHERE e.task_id = t.id AND e.event_type = 'task_permanently_failed' ORDER BY e.id DESC LIMIT 1
      ) END AS final_metadata
    FROM ${T} AS t WHERE t.id IN (SELECT value FROM json_each(?))`,
    JSON.stringify(ids),
  );
}
