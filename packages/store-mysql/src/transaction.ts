import type { Pool, PoolConnection } from 'mysql2/promise';
import type { ConnectionSource } from './connection.js';
import { isConnectionError, isLockConflict, toStoreError } from './errors.js';

/*
 * How every store method talks to MySQL.
 *
 * - Transactions run at READ COMMITTED, set per transaction (`SET TRANSACTION ISOLATION LEVEL`
 *   applies to the next transaction only, so a pool passed in by the caller keeps its own
 *   session defaults). At REPEATABLE READ InnoDB takes gap and next-key locks on every range a
 *   locking read scans, and concurrent `FOR UPDATE SKIP LOCKED` claims deadlocked in most
 *   rounds; at READ COMMITTED only matching rows are locked and the claims stopped deadlocking.
 * - A transaction that still hits ER_LOCK_DEADLOCK (1213) or ER_LOCK_WAIT_TIMEOUT (1205) was
 *   rolled back, so it is run again from the start, a bounded number of times with a small
 *   jittered backoff: callers never see a deadlock.
 * - A pooled connection the server killed is only noticed when used. If that happens before
 *   COMMIT was sent, nothing was committed, so the work is run once more on a fresh connection.
 *   A failure during COMMIT is never retried (the outcome is unknown) and surfaces as
 *   StoreUnavailableError.
 */

/** What store code gets: a connection it may only query. */
export type Conn = Pick<PoolConnection, 'query'>;

const STALE_CONNECTION_RETRIES = 2;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function backoff(attempt: number): number {
  return Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random());
}

async function acquire(source: ConnectionSource): Promise<PoolConnection> {
  let pool: Pool;
  try {
    pool = source.pool();
  } catch (error) {
    throw toStoreError(error);
  }
  try {
    return await pool.getConnection();
  } catch (error) {
    throw toStoreError(error, 'Could not get a MySQL connection');
  }
}

function discard(conn: PoolConnection, error: unknown): void {
  if (isConnectionError(error)) {
    conn.destroy();
  } else {
    conn.release();
  }
}

/** Run `work` in one READ COMMITTED transaction, retried on deadlock; errors mapped. */
export async function inTransaction<T>(source: ConnectionSource, work: (conn: Conn) => Promise<T>): Promise<T> {
  let lockRetries = 0;
  let staleRetries = 0;
  for (;;) {
    const conn = await acquire(source);
    let committing = false;
    try {
      await conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
      await conn.query('START TRANSACTION');
      const out = await work(conn);
      committing = true;
      await conn.query('COMMIT');
      conn.release();
      return out;
    } catch (error) {
      if (isConnectionError(error)) {
        conn.destroy();
      } else {
        try {
          await conn.query('ROLLBACK');
          conn.release();
        } catch {
          conn.destroy();
        }
      }
      if (!committing && isLockConflict(error) && lockRetries < source.deadlockRetries) {
        lockRetries += 1;
        await sleep(backoff(lockRetries));
        continue;
      }
      if (!committing && isConnectionError(error) && staleRetries < STALE_CONNECTION_RETRIES) {
        staleRetries += 1;
        continue;
      }
      throw toStoreError(error);
    }
  }
}

/** Run read-only or single-statement `work` on a pooled connection (autocommit); errors mapped. */
export async function withConnection<T>(source: ConnectionSource, work: (conn: Conn) => Promise<T>): Promise<T> {
  let staleRetries = 0;
  for (;;) {
    const conn = await acquire(source);
    try {
      const out = await work(conn);
      conn.release();
      return out;
    } catch (error) {
      discard(conn, error);
      if (isConnectionError(error) && staleRetries < STALE_CONNECTION_RETRIES) {
        staleRetries += 1;
        continue;
      }
      throw toStoreError(error);
    }
  }
}

/** Run `work` on one connection held for its whole duration (for session-scoped locks such as GET_LOCK). */
export async function withDedicatedConnection<T>(source: ConnectionSource, work: (conn: PoolConnection) => Promise<T>): Promise<T> {
  const conn = await acquire(source);
  try {
    const out = await work(conn);
    conn.release();
    return out;
  } catch (error) {
    discard(conn, error);
    throw toStoreError(error);
  }
}
