import { TABLES, type RawRow } from '@taskmill/store-kit';
import { exec, rows, type Conn } from './transaction.js';

/*
 * Task names paused cluster-wide (docs/behaviour.md#flow-control): one row per paused name in
 * `taskmill_paused_names`, which every claim reads (claim.ts `pausedAmong`). The kit writes the
 * name's event with the row.
 */

const P = TABLES.pausedNames;

/** Every pause row, by name. */
export function selectPausedNames(conn: Conn): Promise<RawRow[]> {
  return rows(conn, `SELECT name, paused_at, paused_by, reason FROM ${P} ORDER BY name`);
}

/**
 * Insert the name's pause row; false when the name already has one. A plain INSERT whose
 * ER_DUP_ENTRY (1062) means "already paused": InnoDB undoes only that statement, and a concurrent
 * uncommitted pause of the name makes it wait for that transaction's end. Not `INSERT IGNORE`,
 * which would also hide other errors, nor `ON DUPLICATE KEY UPDATE`, whose affected-row count
 * cannot tell an insert from a duplicate under CLIENT_FOUND_ROWS (on by default in mysql2).
 */
export async function insertPausedName(
  conn: Conn,
  row: { name: string; paused_at: number; paused_by: string | null; reason: string | null },
): Promise<boolean> {
  try {
    await exec(conn, `INSERT INTO ${P} (name, paused_at, paused_by, reason) VALUES (?, ?, ?, ?)`, [row.name, row.paused_at, row.paused_by, row.reason]);
    return true;
  } catch (error) {
    if ((error as { errno?: unknown } | null)?.errno === 1062) return false;
    throw error;
  }
}

/** Delete the name's pause row; false when it had none. */
export async function deletePausedName(conn: Conn, name: string): Promise<boolean> {
  const { affectedRows } = await exec(conn, `DELETE FROM ${P} WHERE name = ?`, [name]);
  return affectedRows > 0;
}
