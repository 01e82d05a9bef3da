import type { RawRow } from '@taskmill/store-kit';
import type { Db } from './transaction.js';

/*
 * Names paused cluster-wide (docs/behaviour.md#flow-control): one row per name in
 * `taskmill_paused_names`, which every claim reads (claim.ts, pausedAmong). The primary key on
 * the name makes two pauses of a name at once write one row: the second waits for the first's
 * commit and then inserts nothing.
 */

/** Every paused name's row, by name (byte-wise, as on the other stores). */
export async function selectPausedNames(db: Db): Promise<RawRow[]> {
  return db.sql`SELECT * FROM ${db.t.pausedNames} ORDER BY name COLLATE "C"`;
}

/** Insert the name's pause row; false (nothing written) when the name already has one. */
export async function insertPausedName(
  db: Db,
  row: { name: string; paused_at: number; paused_by: string | null; reason: string | null },
): Promise<boolean> {
  const { sql } = db;
  const inserted = await sql`
    INSERT INTO ${db.t.pausedNames} ${sql(row, 'name', 'paused_at', 'paused_by', 'reason')}
    ON CONFLICT (name) DO NOTHING
    RETURNING name`;
  return inserted.length > 0;
}

/** Delete the name's pause row; false when it had none. */
export async function deletePausedName(db: Db, name: string): Promise<boolean> {
  const result = await db.sql`DELETE FROM ${db.t.pausedNames} WHERE name = ${name}`;
  return result.count > 0;
}
