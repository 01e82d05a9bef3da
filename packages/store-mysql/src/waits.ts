import type { Task, TaskId } from '@taskmill/contracts';
import { decodeTask, TABLES, type RawRow } from '@taskmill/store-kit';
import { exec, rows, type Conn } from './transaction.js';

/*
 * Timed waits and signals (docs/behaviour.md#durable-sleep, #signals). The kit decides every rule;
 * these statements find and write. The task's row lock, taken by the kit before any of them, is
 * what makes a signal and a wait for it see each other (operations/waits.ts); the kept signal is
 * read with a locking read, which sees the latest committed rows whatever the isolation level.
 */

/** Insert a signal row; its id. */
export async function insertSignal(conn: Conn, row: { task_id: TaskId; name: string; data: string | null; sent_at: number }): Promise<number> {
  const result = await exec(conn, `INSERT INTO ${TABLES.signals} (task_id, name, data, sent_at) VALUES (?, ?, ?, ?)`, [row.task_id, row.name, row.data, row.sent_at]);
  return Number(result.insertId);
}

/** The task's oldest kept signal of a name (one range of idx_task_signals_task_name), locked. */
export async function selectKeptSignal(conn: Conn, taskId: TaskId, name: string): Promise<RawRow | null> {
  const [row] = await rows(conn, `SELECT * FROM ${TABLES.signals} WHERE task_id = ? AND name = ? AND consumed_at IS NULL ORDER BY id LIMIT 1 FOR UPDATE`, [taskId, name]);
  return row ?? null;
}

/** Mark a signal consumed. */
export async function markSignalConsumed(conn: Conn, signalId: number, now: number): Promise<void> {
  await exec(conn, `UPDATE ${TABLES.signals} SET consumed_at = ? WHERE id = ?`, [now, signalId]);
}

/** Due timed waits, earliest first, through idx_task_wake; `SKIP LOCKED` as the timeout sweep (sweep.ts). */
export async function dueWakeCandidates(conn: Conn, now: number, limit: number): Promise<Task[]> {
  const found = await rows(
    conn,
    `SELECT * FROM ${TABLES.tasks} WHERE wake_at <= ? AND status = 'suspended' ORDER BY wake_at, id LIMIT ? FOR UPDATE SKIP LOCKED`,
    [now, limit],
  );
  return found.map(decodeTask);
}

/** The earliest `wake_at` (the first entry of idx_task_wake), or null. */
export async function selectNextWake(conn: Conn): Promise<number | null> {
  const [row] = await rows(conn, `SELECT min(wake_at) AS next FROM ${TABLES.tasks}`);
  return row?.next === null || row?.next === undefined ? null : Number(row.next);
}
