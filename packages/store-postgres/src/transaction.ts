import { retryTransaction, TRANSACTION_RETRY } from '@taskmill/store-kit';
import type { Connection, Queryable, Tables } from './connection.js';
import { isRetryableTransactionError, toStoreError } from './errors.js';

/** What every SQL function of the store runs on: a transaction (or the pool, for reads) and the tables. */
export interface Db {
  sql: Queryable;
  t: Tables;
  /** LISTEN/NOTIFY channel of the store's schema. */
  channel: string;
  /**
   * Statements sent without waiting for their answer (the wake-up NOTIFY), in a transaction the
   * store commits itself: {@link write} waits for every one of them before COMMIT, so one that
   * failed rolls the transaction back. Absent in an application's transaction (`within`), whose
   * COMMIT is not the store's to hold back: there every statement is awaited.
   */
  unawaited?: Promise<unknown>[];
}

/**
 * Run `work` in one READ COMMITTED transaction (named explicitly: a database or role default of
 * REPEATABLE READ would turn the claim's re-check of a locked row into serialization failures).
 * At READ COMMITTED a `FOR UPDATE` re-reads the newest version of a row it waited for, so every
 * row the kit decides on is current. Serialization failures and deadlocks (40001, 40P01) roll
 * back and rerun the whole transaction under the kit's {@link TRANSACTION_RETRY}; every other error is mapped by
 * {@link toStoreError} (taskmill errors thrown by `work` pass through unchanged).
 */
export async function write<T>(connection: Connection, operation: string, work: (db: Db) => Promise<T>): Promise<T> {
  try {
    return await retryTransaction(TRANSACTION_RETRY, isRetryableTransactionError, async () =>
      (await connection.sql.begin('isolation level read committed', async (tx) => {
        const db: Db = { sql: tx, t: connection.t, channel: connection.channel, unawaited: [] };
        const result = await work(db);
        // answered by now when later statements followed them on the connection
        await Promise.all(db.unawaited!);
        return result;
      })) as T,
    );
  } catch (error) {
    throw toStoreError(error, operation);
  }
}

/**
 * Run reads on the pool, outside a transaction: each statement sees the latest committed state,
 * and independent statements (a page and its count) run side by side on two connections.
 */
export async function read<T>(connection: Connection, operation: string, work: (db: Db) => Promise<T>): Promise<T> {
  try {
    return await work({ sql: connection.sql, t: connection.t, channel: connection.channel });
  } catch (error) {
    throw toStoreError(error, operation);
  }
}
