import { transactionRetryPause, TRANSACTION_RETRY, type RawRow } from '@taskmill/store-kit';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { MysqlConnection } from './connection.js';
import { isConnectionError, isLockConflict, toStoreError } from './errors.js';

/*
 * How every store operation talks to MySQL.
 *
 * - Transactions run at READ COMMITTED, set per transaction (`SET TRANSACTION ISOLATION LEVEL`
 *   applies to the next transaction only, so a pool passed in by the caller keeps its own
 *   session defaults). At REPEATABLE READ InnoDB takes gap and next-key locks on every range a
 *   locking read scans, and concurrent `FOR UPDATE SKIP LOCKED` claims deadlocked in most
 *   rounds; at READ COMMITTED only matching rows are locked and the claims stopped deadlocking.
 * - A transaction that still hits ER_LOCK_DEADLOCK (1213) or ER_LOCK_WAIT_TIMEOUT (1205) was
 *   rolled back, so it is run again from the start under the kit's TRANSACTION_RETRY (with
 *   `deadlockRetries` reruns): callers never see a deadlock.
 * - A pooled connection the server killed is only noticed when used. If that happens before
 *   COMMIT was sent, nothing was committed, so the work is run once more on a fresh connection.
 *   A failure during COMMIT is never retried (the outcome is unknown) and surfaces as
 *   StoreUnavailableError.
 *
 * Every value reaches the server as a bound parameter: mysql2 escapes `?` placeholders
 * client-side, and `IN (?)` expands an array.
 */

/** A connection that may only be queried. */
export type Queryable = Pick<PoolConnection, 'query'>;

/** The handle the SQL files get: a connection they may only query, inside or outside a transaction. */
export interface Conn extends Queryable {
  /**
   * `@@auto_increment_increment`, the distance between the ids of one multi-row INSERT (1 unless
   * the server is set up for multi-primary replication); read once per store.
   */
  idStep(): Promise<number>;
  /**
   * A task became claimable in this transaction: ring the bell (bell.ts) after it commits. A no-op
   * on an application's transaction (within.ts), whose commit the store does not see.
   */
  wake(): void;
}

const STALE_CONNECTION_RETRIES = 2;

const idSteps = new WeakMap<MysqlConnection, Promise<number>>();

/** The SQL files' handle on one connection of a store (the store's own, or an application's: within.ts). */
export function handle(connection: MysqlConnection, conn: Queryable, wake: () => void = () => {}): Conn {
  return {
    query: conn.query.bind(conn) as Queryable['query'],
    wake,
    idStep() {
      let step = idSteps.get(connection);
      if (!step) {
        step = rows(conn, 'SELECT @@auto_increment_increment AS step').then(([row]) => Number(row?.step ?? 1) || 1);
        step.catch(() => idSteps.delete(connection));
        idSteps.set(connection, step);
      }
      return step;
    },
  };
}

/** Rows of a SELECT. */
export async function rows(conn: Queryable, sql: string, params: unknown[] = []): Promise<RawRow[]> {
  const [result] = await conn.query<RowDataPacket[]>(sql, params);
  return result as RawRow[];
}

/** Run a write; returns the rows it matched and the first generated id. */
export async function exec(conn: Queryable, sql: string, params: unknown[] = []): Promise<{ affectedRows: number; insertId: number }> {
  const [result] = await conn.query<ResultSetHeader>(sql, params);
  return { affectedRows: Number(result.affectedRows), insertId: Number(result.insertId) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function failure(operation: string): string {
  return `MySQL store ${operation} failed`;
}

async function acquire(connection: MysqlConnection, operation: string): Promise<PoolConnection> {
  let pool: Pool;
  try {
    pool = connection.pool();
  } catch (error) {
    throw toStoreError(error, failure(operation));
  }
  try {
    return await pool.getConnection();
  } catch (error) {
    throw toStoreError(error, `Could not get a MySQL connection for ${operation}`);
  }
}

/** Give a connection back, or drop it when the error says it is dead. */
function discard(conn: PoolConnection, error: unknown): void {
  if (isConnectionError(error)) {
    conn.destroy();
  } else {
    conn.release();
  }
}

/**
 * The pause before the next rerun of a transaction (or packet) that failed with `error`: after a
 * deadlock or lock wait timeout while the connection's policy allows another rerun, else null.
 * One per transaction: it counts the reruns and the time since it was made.
 */
function lockRetries(connection: MysqlConnection): (error: unknown) => number | null {
  const policy = { ...TRANSACTION_RETRY, retries: connection.deadlockRetries };
  const startedAt = Date.now();
  let reruns = 0;
  return (error) => {
    const pause = isLockConflict(error) ? transactionRetryPause(policy, reruns + 1, startedAt) : null;
    if (pause !== null) reruns += 1;
    return pause;
  };
}

/** Undo what a failed transaction left open and give the connection back; destroy it when even the ROLLBACK fails. */
async function rollBackOrDestroy(conn: PoolConnection): Promise<void> {
  try {
    await conn.query('ROLLBACK');
    conn.release();
  } catch {
    conn.destroy();
  }
}

/**
 * Run `work` in one READ COMMITTED transaction, rerun after a deadlock or a stale connection; errors
 * mapped. When the work made a task claimable (`conn.wake()`), the bell rings once it committed.
 */
export async function inTransaction<T>(connection: MysqlConnection, operation: string, work: (conn: Conn) => Promise<T>): Promise<T> {
  const lockPause = lockRetries(connection);
  let staleRetries = 0;
  for (;;) {
    const conn = await acquire(connection, operation);
    let committing = false;
    // per run: a rolled-back run's wake-up is dropped with it
    let woke = false;
    try {
      await conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
      await conn.query('START TRANSACTION');
      const out = await work(handle(connection, conn, () => (woke = true)));
      committing = true;
      await conn.query('COMMIT');
      conn.release();
      if (woke) connection.ring();
      return out;
    } catch (error) {
      if (isConnectionError(error)) conn.destroy();
      else await rollBackOrDestroy(conn);
      const pause = committing ? null : lockPause(error);
      if (pause !== null) {
        await sleep(pause);
        continue;
      }
      if (!committing && isConnectionError(error) && staleRetries < STALE_CONNECTION_RETRIES) {
        staleRetries += 1;
        continue;
      }
      throw toStoreError(error, failure(operation));
    }
  }
}

/** The statements of one multi-statement packet, each with its own `?` values. */
export type Packet = Array<{ sql: string; params?: unknown[] }>;

/** Whether the connection's server is MariaDB, as its handshake said (mysql2 records it; else from the version text). */
function isMariaDB(conn: PoolConnection): boolean {
  const core = (conn as unknown as { connection?: { _isMariaDB?: boolean; _handshakePacket?: { serverVersion?: string } } }).connection;
  if (typeof core?._isMariaDB === 'boolean') return core._isMariaDB;
  return /mariadb/i.test(core?._handshakePacket?.serverVersion ?? '');
}

/**
 * Run one packet, `START TRANSACTION … COMMIT` (plain.ts), in one round trip: the statements
 * joined by `;` and sent as one query, every value escaped by mysql2 into its placeholder. The
 * results of its statements in order; null, without sending anything, when the pool cannot run
 * packets (no `multipleStatements`, or not MariaDB): the caller takes the general path.
 *
 * The server stops at a failing statement and answers with its error. A transaction may then
 * still be open (a lock wait timeout undoes only its statement), so a ROLLBACK follows before the
 * connection goes back to the pool, or the connection is destroyed when even that fails; a
 * deadlock or lock wait timeout then runs the packet again as `inTransaction` runs its work. A
 * packet that was sent and lost its connection may have committed: like a failure during COMMIT,
 * it is never run again (StoreUnavailableError); only a connection that was closed before the
 * packet left is replaced and the packet sent on another.
 */
export async function inPacket(connection: MysqlConnection, operation: string, packet: Packet): Promise<unknown[] | null> {
  if (!connection.multipleStatements) return null;
  const sql = packet.map((statement) => statement.sql).join(';\n');
  const params = packet.flatMap((statement) => statement.params ?? []);
  const lockPause = lockRetries(connection);
  let staleRetries = 0;
  for (;;) {
    const conn = await acquire(connection, operation);
    if (!isMariaDB(conn)) {
      conn.release();
      return null;
    }
    try {
      const [results] = await conn.query<RowDataPacket[][]>(sql, params);
      conn.release();
      return results as unknown[];
    } catch (error) {
      if (isConnectionError(error)) {
        conn.destroy();
        if (isClosedBeforeSending(error) && staleRetries < STALE_CONNECTION_RETRIES) {
          staleRetries += 1;
          continue;
        }
        throw toStoreError(error, failure(operation));
      }
      await rollBackOrDestroy(conn);
      const pause = lockPause(error);
      if (pause !== null) {
        await sleep(pause);
        continue;
      }
      throw toStoreError(error, failure(operation));
    }
  }
}

/** mysql2 refused the command because the connection had already closed: nothing was sent. */
function isClosedBeforeSending(error: unknown): boolean {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' && message.toLowerCase().includes('connection is in closed state');
}

/** Run reads on a pooled connection (autocommit, one statement at a time); errors mapped. */
export async function withConnection<T>(connection: MysqlConnection, operation: string, work: (conn: Conn) => Promise<T>): Promise<T> {
  let staleRetries = 0;
  for (;;) {
    const conn = await acquire(connection, operation);
    try {
      const out = await work(handle(connection, conn));
      conn.release();
      return out;
    } catch (error) {
      discard(conn, error);
      if (isConnectionError(error) && staleRetries < STALE_CONNECTION_RETRIES) {
        staleRetries += 1;
        continue;
      }
      throw toStoreError(error, failure(operation));
    }
  }
}

/** Run `work` on one connection held for its whole duration (for session-scoped locks such as GET_LOCK). */
export async function withDedicatedConnection<T>(
  connection: MysqlConnection,
  operation: string,
  work: (conn: PoolConnection) => Promise<T>,
): Promise<T> {
  const conn = await acquire(connection, operation);
  try {
    const out = await work(conn);
    conn.release();
    return out;
  } catch (error) {
    discard(conn, error);
    throw toStoreError(error, failure(operation));
  }
}
