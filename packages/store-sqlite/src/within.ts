import { resolve as resolvePath } from 'node:path';
import { ValidationError } from '@taskmill/contracts';
import { bindSyncWriter, drizzleClient, operations, runStepsSync, type Steps } from '@taskmill/store-kit';
import type Database from 'better-sqlite3';
import { isDatabase, SqliteConnection } from './connection.js';
import { toStoreError } from './errors.js';
import * as notify from './notify.js';
import * as taskRows from './task-rows.js';
import type { Transactions } from './transaction.js';

/*
 * Enqueue inside the application's own transaction (`Store.createTasksWithin`). better-sqlite3
 * transactions are synchronous (`db.transaction(fn)` cannot await, nor can drizzle's), so the
 * kit's step program runs over synchronous SQL (`runStepsSync`): every statement has run when the
 * call returns, inside whatever transaction the handle has open. Nothing here begins or ends a
 * transaction. The application's connection is wrapped in a SqliteConnection of its own (cached
 * prepared statements), or is the store's own when the store was made on that very database.
 */

/** The synchronous SQL the create step program calls. */
const SYNC_SQL = {
  insertTasks: taskRows.insertTasks,
  insertUniqueTask: taskRows.insertUniqueTask,
  selectUniqueHolder: taskRows.selectUniqueHolder,
  lockTask: taskRows.lockTask,
  releaseExpiredUnique: taskRows.releaseExpiredUnique,
  applyChanges: taskRows.applyChanges,
  wake: notify.wake,
};

/** The better-sqlite3 database of a handle: the database itself, or a drizzle database/transaction's client. */
function databaseOf(handle: unknown): Database.Database {
  const candidate = drizzleClient(handle) ?? handle;
  if (!isDatabase(candidate)) {
    throw new ValidationError(
      'The SQLite store enqueues inside a better-sqlite3 Database (or a drizzle better-sqlite3 database/transaction) in a transaction; got something else',
    );
  }
  return candidate;
}

/** `writeWithin` of the SQLite driver. */
export function sqliteWithin(connection: SqliteConnection, transactions: Transactions) {
  const foreign = new WeakMap<Database.Database, SqliteConnection>();

  function connectionFor(db: Database.Database): SqliteConnection {
    if (!db.open) throw new ValidationError('The better-sqlite3 database given for a transactional enqueue is closed');
    if (db.readonly) throw new ValidationError('The better-sqlite3 database given for a transactional enqueue is read-only');
    if (!db.inTransaction) {
      throw new ValidationError('The better-sqlite3 database given for a transactional enqueue is not inside a transaction (use db.transaction(fn) or BEGIN)');
    }
    const own = connection.openDatabase;
    if (db === own) {
      // the store's own connection: its own transaction must not be the one open
      if (transactions.active) throw new ValidationError("The database's open transaction is the store's own, not the application's: give the store its own connection");
      return connection;
    }
    const file = connection.filePath;
    const name = db.memory || !db.name || db.name === ':memory:' ? null : resolvePath(db.name);
    if (file === null || name !== file) {
      throw new ValidationError(`The better-sqlite3 database given for a transactional enqueue (${name ?? ':memory:'}) is not the store's (${file ?? ':memory:'})`);
    }
    let conn = foreign.get(db);
    if (!conn) {
      conn = new SqliteConnection({ database: db });
      foreign.set(db, conn);
    }
    return conn;
  }

  /**
   * Run the steps synchronously on the application's transaction. Errors are thrown, not returned
   * as a rejection: the caller's synchronous transaction function must throw to roll back.
   */
  return function writeWithin<T>(handle: unknown, operation: string, steps: Steps<T>): Promise<T> {
    const conn = connectionFor(databaseOf(handle));
    try {
      return Promise.resolve(runStepsSync(bindSyncWriter(conn, SYNC_SQL, operations.CREATE_TASK_METHODS), steps));
    } catch (error) {
      throw toStoreError(error, operation);
    }
  };
}
