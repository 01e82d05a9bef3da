import type { TaskId } from '@taskmill/contracts';
import type { RawRow } from '@taskmill/store-kit';
import type { Db } from './transaction.js';

/*
 * The event feed's and result waiters' reads (docs/behaviour.md#event-subscriptions,
 * docs/behaviour.md#results). The kit decides what to do with gaps; these are primary-key reads:
 * a range of the events' key joined to each task's key, a max, and the tasks of a list of ids.
 */

/** Events after `after` by id, with their task's name and tag. */
export async function selectEventsAfter(db: Db, after: number, limit: number): Promise<RawRow[]> {
  return db.sql`
    SELECT e.*, t.name AS task_name, t.tag AS task_tag
    FROM ${db.t.events} e LEFT JOIN ${db.t.tasks} t ON t.id = e.task_id
    WHERE e.id > ${after} ORDER BY e.id LIMIT ${limit}`;
}

/** Events of these ids, with their task's name and tag. */
export async function selectEventsByIds(db: Db, ids: readonly number[]): Promise<RawRow[]> {
  if (ids.length === 0) return [];
  return db.sql`
    SELECT e.*, t.name AS task_name, t.tag AS task_tag
    FROM ${db.t.events} e LEFT JOIN ${db.t.tasks} t ON t.id = e.task_id
    WHERE e.id = ANY(${ids as number[]}::int8[])`;
}

/** The highest event id (the primary key's last entry), or 0. */
export async function selectMaxEventId(db: Db): Promise<number> {
  const [row] = await db.sql`SELECT COALESCE(MAX(id), 0) AS id FROM ${db.t.events}`;
  return Number(row?.id ?? 0);
}

/** What a result waiter needs of these tasks; a permanently failed task's last failure event says whether it was cancelled. */
export async function selectTaskOutcomes(db: Db, ids: readonly TaskId[]): Promise<RawRow[]> {
  if (ids.length === 0) return [];
  return db.sql`
    SELECT t.id, t.type, t.status, t.result, t.error,
      CASE WHEN t.status = 'permanently_failed' THEN (
        SELECT e.metadata FROM ${db.t.events} e
        WHERE e.task_id = t.id AND e.event_type = 'task_permanently_failed' ORDER BY e.id DESC LIMIT 1
      ) END AS final_metadata
    FROM ${db.t.tasks} t WHERE t.id = ANY(${ids as TaskId[]}::int8[])`;
}
