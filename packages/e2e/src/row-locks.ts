import type { ProcessConnection } from './backends.js';

/**
 * True when another session holds a row lock on this worker's registry row right now (a
 * transaction of that worker left open). Asks with `FOR UPDATE NOWAIT`, so it never waits, and
 * rolls back at once. Server databases only: SQLite has no row locks.
 */
export function workerRowLocked(connection: ProcessConnection, workerId: string): Promise<boolean> {
  return rowLocked(connection, 'taskmill_workers', 'worker_id', workerId);
}

/** True when another session holds a row lock on this task's row right now (see {@link workerRowLocked}). */
export function taskRowLocked(connection: ProcessConnection, taskId: number): Promise<boolean> {
  return rowLocked(connection, 'taskmill_tasks', 'id', taskId);
}

async function rowLocked(connection: ProcessConnection, table: string, key: string, value: string | number): Promise<boolean> {
  if (connection.kind === 'postgres') {
    const { default: pg } = await import('postgres');
    const sql = pg(connection.url, { max: 1, onnotice: () => {} });
    try {
      await sql.begin((tx) => tx.unsafe(`SELECT 1 FROM "${connection.schema}".${table} WHERE ${key} = $1 FOR UPDATE NOWAIT`, [value]));
      return false;
    } catch (error) {
      if ((error as { code?: string }).code === '55P03') return true; // lock_not_available
      throw error;
    } finally {
      await sql.end({ timeout: 1 });
    }
  }
  if (!connection.url.startsWith('mysql:')) throw new Error(`rowLocked needs a server database, not ${connection.url}`);
  const { default: my } = await import('mysql2/promise');
  const conn = await my.createConnection({ uri: connection.url });
  try {
    await conn.query('START TRANSACTION');
    await conn.query(`SELECT 1 FROM ${table} WHERE ${key} = ? FOR UPDATE NOWAIT`, [value]);
    return false;
  } catch (error) {
    // MariaDB answers NOWAIT with 1205 (lock wait timeout), MySQL 8 with 3572 (ER_LOCK_NOWAIT)
    const errno = (error as { errno?: number }).errno;
    if (errno === 1205 || errno === 3572) return true;
    throw error;
  } finally {
    await conn.query('ROLLBACK').catch(() => undefined);
    await conn.end();
  }
}
