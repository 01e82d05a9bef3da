import type { Task, TaskId } from '@taskmill/contracts';
import { decodeTask, type RawRow } from '@taskmill/store-kit';
import type { Db } from './transaction.js';

/*
 * Timed waits and signals (docs/behaviour.md#durable-sleep, #signals). The kit decides every rule;
 * these statements find and write. The task's row lock, taken by the kit before any of them, is
 * what makes a signal and a wait for it see each other (operations/waits.ts).
 */

/** Insert a signal row; its id. */
export async function insertSignal(db: Db, row: { task_id: TaskId; name: string; data: string | null; sent_at: number }): Promise<number> {
  const [inserted] = await db.sql`
    INSERT INTO ${db.t.signals} (task_id, name, data, sent_at) VALUES (${row.task_id}, ${row.name}, ${row.data}, ${row.sent_at})
    RETURNING id`;
  return Number(inserted.id);
}

/** The task's oldest kept signal of a name (one range of idx_task_signals_task_name), locked. */
export async function selectKeptSignal(db: Db, taskId: TaskId, name: string): Promise<RawRow | null> {
  const [row] = await db.sql`
    SELECT * FROM ${db.t.signals}
    WHERE task_id = ${taskId} AND name = ${name} AND consumed_at IS NULL
    ORDER BY id
    LIMIT 1
    FOR UPDATE`;
  return row ?? null;
}

/** Mark a signal consumed. */
export async function markSignalConsumed(db: Db, signalId: number, now: number): Promise<void> {
  await db.sql`UPDATE ${db.t.signals} SET consumed_at = ${now} WHERE id = ${signalId}`;
}

/**
 * Due timed waits, earliest first, through the partial index idx_task_wake; `SKIP LOCKED` as the
 * timeout sweep (sweep.ts), so workers sweeping at once split them and the kit's guarded UPDATE
 * makes each wake a compare-and-set.
 */
export async function dueWakeCandidates(db: Db, now: number, limit: number): Promise<Task[]> {
  const rows = await db.sql`
    SELECT * FROM ${db.t.tasks}
    WHERE wake_at IS NOT NULL AND wake_at <= ${now} AND status = 'suspended'
    ORDER BY wake_at, id
    LIMIT ${limit}
    FOR UPDATE SKIP LOCKED`;
  return rows.map(decodeTask);
}

/** The earliest `wake_at` (the first entry of idx_task_wake), or null. */
export async function selectNextWake(db: Db): Promise<number | null> {
  const [row] = await db.sql`SELECT min(wake_at) AS next FROM ${db.t.tasks} WHERE wake_at IS NOT NULL`;
  return row?.next === null || row?.next === undefined ? null : Number(row.next);
}
