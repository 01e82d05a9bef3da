import type { TaskId } from '@taskmill/contracts';
import { TABLES, type RawRow } from '@taskmill/store-kit';
import { rows, type Conn } from './transaction.js';

/*
 * The event feed's and result waiters' reads (docs/behaviour.md#event-subscriptions,
 * docs/behaviour.md#results). The kit decides what to do with gaps; these are primary-key reads:
 * a range of the events' key joined to each task's key, a max, and the tasks of a list of ids.
 */

const E = TABLES.events;
const T = TABLES.tasks;
const FEED = `SELECT e.*, t.name AS task_name, t.tag AS task_tag FROM ${E} AS e LEFT JOIN ${T} AS t ON t.id = e.task_id`;

/** Events after `after` by id, with their task's name and tag. */
export async function selectEventsAfter(conn: Conn, after: number, limit: number): Promise<RawRow[]> {
  return rows(conn, `${FEED} WHERE e.id > ? ORDER BY e.id LIMIT ?`, [after, limit]);
}

/** Events of these ids, with their task's name and tag. */
export async function selectEventsByIds(conn: Conn, ids: readonly number[]): Promise<RawRow[]> {
  if (ids.length === 0) return [];
  return rows(conn, `${FEED} WHERE e.id IN (?)`, [ids]);
}

/** The highest event id (the primary key's last entry), or 0. */
export async function selectMaxEventId(conn: Conn): Promise<number> {
  const [row] = await rows(conn, `SELECT COALESCE(MAX(id), 0) AS id FROM ${E}`);
  return Number(row?.id ?? 0);
}

/** What a result waiter needs of these tasks; a permanently failed task's last failure event says whether it was cancelled. */
export async function selectTaskOutcomes(conn: Conn, ids: readonly TaskId[]): Promise<RawRow[]> {
  if (ids.length === 0) return [];
  return rows(
    conn,
    `SELECT t.id, t.type, t.status, t.result, t.error,
      CASE WHEN t.status = 'permanently_failed' THEN (
        SELECT e.metadata FROM ${E} AS e
        WHERE e.task_id = t.id AND e.event_type = 'task_permanently_failed' ORDER BY e.id DESC LIMIT 1
      ) END AS final_metadata
    FROM ${T} AS t WHERE t.id IN (?)`,
    [ids],
  );
}
