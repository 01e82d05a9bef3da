import type { Task, TaskId } from '@taskmill/contracts';
import { decodeTask, TABLES, type RawRow } from '@taskmill/store-kit';
import type { SqliteConnection } from './connection.js';

/*
 * Timed waits and signals (docs/behaviour.md#durable-sleep, #signals). Every write is one
 * IMMEDIATE transaction, so a signal and a wait for it are serialised by SQLite's write lock and
 * the second sees what the first wrote; the kit decides every rule.
 */

/** Insert a signal row; its id. */
export function insertSignal(sql: SqliteConnection, row: { task_id: TaskId; name: string; data: string | null; sent_at: number }): number {
  const result = sql.run(`INSERT INTO ${TABLES.signals} (task_id, name, data, sent_at) VALUES (?, ?, ?, ?)`, row.task_id, row.name, row.data, row.sent_at);
  return Number(result.lastInsertRowid);
}

/** The task's oldest kept signal of a name (one range of idx_task_signals_task_name). */
export function selectKeptSignal(sql: SqliteConnection, taskId: TaskId, name: string): RawRow | null {
  return (
    (sql.get(`SELECT * FROM ${TABLES.signals} WHERE task_id = ? AND name = ? AND consumed_at IS NULL ORDER BY id LIMIT 1`, taskId, name) as RawRow | undefined) ??
    null
  );
}

/** Mark a signal consumed. */
export function markSignalConsumed(sql: SqliteConnection, signalId: number, now: number): void {
  sql.run(`UPDATE ${TABLES.signals} SET consumed_at = ? WHERE id = ?`, now, signalId);
}

/** Due timed waits, earliest first, through the partial index idx_task_wake. */
export function dueWakeCandidates(sql: SqliteConnection, now: number, limit: number): Task[] {
  return sql
    .all(`SELECT * FROM ${TABLES.tasks} WHERE wake_at IS NOT NULL AND wake_at <= ? AND status = 'suspended' ORDER BY wake_at, id LIMIT ?`, now, limit)
    .map(decodeTask);
}

/** The earliest `wake_at` (the first entry of idx_task_wake), or null. */
export function selectNextWake(sql: SqliteConnection): number | null {
  const row = sql.get(`SELECT min(wake_at) AS next FROM ${TABLES.tasks} WHERE wake_at IS NOT NULL`) as RawRow | undefined;
  return row?.next === null || row?.next === undefined ? null : Number(row.next);
}
