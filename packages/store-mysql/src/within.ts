import { ValidationError } from '@taskmill/contracts';
import { bindWriter, drizzleClient, runSteps, type Steps, type StoreWriter } from '@taskmill/store-kit';
import type { MysqlConnection } from './connection.js';
import { toStoreError } from './errors.js';
import { handle, rows, type Queryable } from './transaction.js';

/*
 * Enqueue inside the application's own transaction (`Store.createTasksWithin`): the store's SQL
 * bound to the application's mysql2 promise connection (a `Connection` or `PoolConnection` after
 * `BEGIN`/`beginTransaction()`, or the connection under a drizzle mysql2 transaction). No
 * BEGIN/COMMIT here, and no retry: the transaction is the application's. Wake-ups need nothing:
 * the probe (notify.ts) sees the committed event rows.
 *
 * Before writing, one statement on the connection checks that its current database is the
 * store's (the tables are named without a database) and, on MariaDB, that a transaction is open
 * (`@@in_transaction`). MySQL 8 has no such variable: there the caller must have begun one.
 */

type Candidate = Queryable & {
  getConnection?: unknown;
  execute?: unknown;
  beginTransaction?: unknown;
  connection?: { _closing?: boolean; _fatalError?: unknown };
};

/** The mysql2 promise connection of a handle, or a ValidationError saying what was given instead. */
function connectionOf(given: unknown): Candidate {
  const candidate = (drizzleClient(given) ?? given) as Candidate | null;
  const shaped = candidate !== null && typeof candidate === 'object' && typeof candidate.query === 'function' && typeof candidate.execute === 'function';
  if (!shaped || (typeof candidate.getConnection !== 'function' && typeof candidate.beginTransaction !== 'function')) {
    throw new ValidationError('The MySQL store enqueues inside a mysql2 promise connection in a transaction (or a drizzle mysql2 transaction); got something else');
  }
  if (typeof candidate.getConnection === 'function') {
    throw new ValidationError('Pass the connection that runs the transaction (pool.getConnection() then BEGIN), not the pool');
  }
  const core = candidate.connection;
  if (core && (core._closing || core._fatalError)) throw new ValidationError('The mysql2 connection given for a transactional enqueue is closed');
  return candidate;
}

function errno(error: unknown): unknown {
  return (error as { errno?: unknown } | null)?.errno;
}

/** `writeWithin` of the MySQL driver. */
export function mysqlWithin(connection: MysqlConnection, sql: Record<string, unknown>) {
  let database: Promise<string | null> | null = null;
  const storeDatabase = (): Promise<string | null> => {
    database ??= rows(connection.pool(), 'SELECT DATABASE() AS db').then(([row]) => (row?.db ?? null) as string | null);
    database.catch(() => (database = null));
    return database;
  };

  return async function writeWithin<T>(given: unknown, operation: string, steps: Steps<T>): Promise<T> {
    const conn = connectionOf(given);
    try {
      let check: { db?: unknown; in_transaction?: unknown };
      try {
        [check] = await rows(conn, 'SELECT DATABASE() AS db, @@in_transaction AS in_transaction');
      } catch (error) {
        if (errno(error) !== 1193) throw error; // ER_UNKNOWN_SYSTEM_VARIABLE: MySQL, not MariaDB
        [check] = await rows(conn, 'SELECT DATABASE() AS db');
      }
      if (check.in_transaction !== undefined && Number(check.in_transaction) !== 1) {
        throw new ValidationError('The mysql2 connection given for a transactional enqueue is not inside a transaction (BEGIN or beginTransaction() first)');
      }
      const expected = await storeDatabase();
      if (check.db !== expected) throw new ValidationError(`The connection given uses database ${String(check.db)}, the store's is ${String(expected)}`);
      return await runSteps(bindWriter(handle(connection, conn), sql as never) as StoreWriter, steps);
    } catch (error) {
      throw toStoreError(error, `MySQL store ${operation} failed`);
    }
  };
}
