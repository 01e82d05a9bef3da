import { ValidationError } from '@taskmill/contracts';
import { bindWriter, drizzleClient, runSteps, TABLES, type Steps, type StoreWriter } from '@taskmill/store-kit';
import { tablesFor, type Connection, type Queryable } from './connection.js';
import { toStoreError } from './errors.js';
import type { Db } from './transaction.js';

/*
 * Enqueue inside the application's own transaction (`Store.createTasksWithin`): the store's SQL
 * bound to the application's postgres-js transaction (`sql.begin(async (tx) => …)`'s `tx`, or a
 * drizzle postgres-js transaction's client), with the store's schema's table identifiers made by
 * that transaction's own postgres-js copy. No BEGIN/COMMIT here, and no retry: the transaction is
 * the application's. The wake-up NOTIFY queued in it is delivered when it commits, and dropped if
 * it rolls back.
 *
 * Before writing, two pipelined statements on the handle (one round trip) check what can be
 * checked: that it runs inside a transaction block — a transaction-local setting made by the
 * first statement is still set in the second only inside one (a handle used after its commit
 * runs each statement in its own implicit transaction) —, that its database is the store's, and
 * that the store's tables exist in its schema.
 *
 * postgres-js 4 (the store's own driver) rejects any statement on a finished transaction's handle
 * with UNSAFE_TRANSACTION before sending it; that is refused as a used handle too. An application
 * may pass a transaction of its own postgres-js 3, which sends the statements, hence the setting
 * check. Both are sent without parameters (simple protocol): in 3.x a used handle's statements go
 * to its former connection, and a parameterised statement not yet prepared there marks that
 * connection busy until its description arrives; postgres-js 3 then parks the next statement in
 * the finished transaction's own queue, which nothing drains any more, so the check never
 * settled. Without parameters nothing waits for a description and a used handle is refused in one
 * round trip. (In 3.x a used handle whose former connection is saturated by other work can still
 * strand a statement: it offers no way to tell a finished transaction's handle from a live one.)
 */

type Client = Queryable & { savepoint?: unknown; reserve?: unknown; unsafe?: unknown };

/** The postgres-js transaction of a handle, or a ValidationError saying what was given instead. */
function transactionOf(handle: unknown): Queryable {
  const candidate = (drizzleClient(handle) ?? handle) as Client;
  if (typeof candidate !== 'function' || typeof candidate.unsafe !== 'function') {
    throw new ValidationError('The PostgreSQL store enqueues inside a postgres-js transaction (sql.begin(tx => …)) or a drizzle postgres-js transaction; got something else');
  }
  // a client has `reserve`; a transaction has `savepoint` (and, in postgres-js 4, `begin` too, for
  // a savepoint), a reserved connection neither
  if (typeof candidate.reserve === 'function' || typeof candidate.savepoint !== 'function') {
    throw new ValidationError('Pass the transaction (the tx of sql.begin(async (tx) => …)), not the postgres-js client or a reserved connection');
  }
  return candidate;
}

/** The refusal of a finished transaction's handle; `cause` is postgres-js 4's own refusal, when it gave one. */
function notOpen(cause?: unknown): ValidationError {
  const message = 'The postgres-js transaction given for a transactional enqueue is not open (used after its commit or rollback?)';
  return new ValidationError(message, cause === undefined ? undefined : { cause });
}

/** `writeWithin` of the PostgreSQL driver. */
export function postgresWithin(connection: Connection, sql: Record<string, unknown>) {
  let database: Promise<string> | null = null;
  const storeDatabase = (): Promise<string> => {
    database ??= (async () => {
      const [row] = await connection.sql`SELECT current_database() AS db`;
      return String(row.db);
    })();
    database.catch(() => (database = null));
    return database;
  };

  return async function writeWithin<T>(handle: unknown, operation: string, steps: Steps<T>): Promise<T> {
    const tx = transactionOf(handle);
    try {
      // the schema name was validated (letters, digits, underscores), so it is safe in a literal
      const tasksTable = `"${connection.schema}"."${TABLES.tasks}"`;
      const [[check], [mark]] = await Promise.all([
        tx.unsafe(`SELECT set_config('taskmill.within', 'on', true) AS mark, current_database() AS db,
            to_regclass('${tasksTable}') IS NOT NULL AS ours`),
        tx.unsafe(`SELECT current_setting('taskmill.within', true) AS mark`),
      ]).catch((error: unknown) => {
        throw (error as { code?: unknown } | null)?.code === 'UNSAFE_TRANSACTION' ? notOpen(error) : error;
      });
      if (mark.mark !== 'on') throw notOpen();
      const expected = await storeDatabase();
      if (check.db !== expected) throw new ValidationError(`The transaction given is on database ${check.db}, the store's is ${expected}`);
      if (!check.ours) throw new ValidationError(`The transaction's database has no taskmill tables in schema ${connection.schema}: run setup() first`);
      const db: Db = { sql: tx, t: tablesFor(tx, connection.schema), channel: connection.channel };
      return await runSteps(bindWriter(db, sql as never) as StoreWriter, steps);
    } catch (error) {
      throw toStoreError(error, operation);
    }
  };
}
