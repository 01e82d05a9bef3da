import { PAUSED_NAME_COLUMNS, TABLES, type RawRow } from '@taskmill/store-kit';
import type { SqliteConnection } from './connection.js';

/*
 * Paused names (docs/behaviour.md#flow-control): one row per name in `taskmill_paused_names`,
 * keyed by the name. Claims read it with `pausedAmong` (claim.ts); the pause and resume calls
 * write it here, inside their `BEGIN IMMEDIATE` transaction, so a pause either committed before a
 * claim began (the claim sees it) or waits for the claim's COMMIT.
 */

/** Every pause row, by name. */
export async function selectPausedNames(sql: SqliteConnection): Promise<RawRow[]> {
  return sql.all(`SELECT ${PAUSED_NAME_COLUMNS.join(', ')} FROM ${TABLES.pausedNames} ORDER BY name`);
}

/** Insert the name's pause row unless it has one (the primary key refuses it); true when written. */
export async function insertPausedName(
  sql: SqliteConnection,
  row: { name: string; paused_at: number; paused_by: string | null; reason: string | null },
): Promise<boolean> {
  return (
    sql.run(
      `INSERT INTO ${TABLES.pausedNames} (name, paused_at, paused_by, reason) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      row.name,
      row.paused_at,
      row.paused_by,
      row.reason,
    ).changes > 0
  );
}

/** Delete the name's pause row; false when it had none. */
export async function deletePausedName(sql: SqliteConnection, name: string): Promise<boolean> {
  return sql.run(`DELETE FROM ${TABLES.pausedNames} WHERE name = ?`, name).changes > 0;
}
