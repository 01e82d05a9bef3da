import { EVENT_COLUMNS, type EventDraft } from '@taskmill/contracts';
import type { Queryable, Tables } from './context.js';

/** Every event column but the generated id. */
const EVENT_INSERT_COLUMNS = EVENT_COLUMNS.filter((c) => c !== 'id');

/**
 * Insert audit events (drafts from contracts' `events.*`) with one multi-row INSERT, in the
 * caller's transaction, and stamp each task's `last_event_time`/`last_event_type` with its
 * latest event. `touchTasks: false` when the caller already set those columns itself.
 * Returns the event ids in draft order.
 */
export async function writeEvents(
  tx: Queryable,
  t: Tables,
  drafts: EventDraft[],
  options: { touchTasks?: boolean } = {},
): Promise<number[]> {
  if (drafts.length === 0) return [];
  const rows = drafts.map((d) => ({
    task_id: d.task_id,
    root_id: d.root_id,
    parent_id: d.parent_id,
    event_type: d.event_type,
    from_status: d.from_status,
    to_status: d.to_status,
    stage: d.stage,
    worker_id: d.worker_id,
    attempt: d.attempt,
    event_time: d.event_time,
    message: d.message,
    metadata: d.metadata === null ? null : JSON.stringify(d.metadata),
  }));
  const inserted = await tx`INSERT INTO ${t.events} ${tx(rows, ...EVENT_INSERT_COLUMNS)} RETURNING id`;
  // Sequence values are drawn in VALUES order, so ascending ids are the drafts' order.
  const ids = inserted.map((r) => Number(r.id)).sort((a, b) => a - b);
  if (options.touchTasks !== false) await touchTasks(tx, t, drafts);
  return ids;
}

async function touchTasks(tx: Queryable, t: Tables, drafts: EventDraft[]): Promise<void> {
  const last = new Map<number, EventDraft>();
  for (const d of drafts) last.set(d.task_id, d);
  const latest = [...last.values()];
  if (latest.length === 1) {
    const d = latest[0];
    await tx`UPDATE ${t.tasks} SET last_event_time = ${d.event_time}, last_event_type = ${d.event_type}
             WHERE id = ${d.task_id}`;
    return;
  }
  await tx`
    UPDATE ${t.tasks} AS task SET last_event_time = v.event_time, last_event_type = v.event_type
    FROM unnest(${latest.map((d) => d.task_id)}::int8[], ${latest.map((d) => d.event_time)}::int8[],
                ${latest.map((d) => d.event_type)}::text[]) AS v(id, event_time, event_type)
    WHERE task.id = v.id`;
}
