import { retryTransaction, type TransactionRetryPolicy } from '@taskmill/store-kit';
import { isBusy, toStoreError } from './errors.js';
import type { SqliteConnection } from './connection.js';
import * as notify from './notify.js';

/*
 * Transactions on the store's one connection.
 *
 * better-sqlite3 is synchronous and its `db.transaction()` cannot wrap async code, but the kit's
 * operations are async. So a transaction is opened and closed by hand around `await work()`, and
 * every operation of a store instance (reads too) runs alone on the connection, in call order:
 * otherwise a read, or a second write, would run inside another operation's open transaction and
 * see (or commit) its uncommitted rows.
 *
 * Writes start with `BEGIN IMMEDIATE`: the database's write lock is taken before the first read,
 * so what the transaction reads cannot change under it (claims, sweeps and recoveries are
 * serialised across every process sharing the file) and it can never fail halfway with
 * SQLITE_BUSY_SNAPSHOT, which a deferred transaction gets in WAL mode when a reader whose
 * snapshot went stale tries to become a writer.
 *
 * better-sqlite3 waits for a busy lock synchronously, freezing this process's event loop (and with
 * it task and worker heartbeats) for as long as another process writes; so the driver waits at
 * most BUSY_SLICE_MS at a time and the rest of `busy_timeout` is waited out here, between
 * event-loop turns. A transaction that got SQLITE_BUSY (at BEGIN, or anywhere after) was rolled
 * back whole, so running it again is safe. The reruns follow the kit's transaction retry policy,
 * bounded by time (the `busy_timeout` a caller set) rather than by a count, with pauses of 1 to
 * 20 ms: a write on a local file holds the lock for milliseconds, far less than a server's
 * deadlock takes to clear.
 */

/** How long `setup()` keeps retrying while another process holds the database during its own setup. */
const SETUP_RETRY_MS = 30_000;

/** Runs one operation at a time, in call order. */
class Serial {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}

/** The store's transactions: every operation runs through here, one at a time. */
export class Transactions {
  readonly #connection: SqliteConnection;
  readonly #serial = new Serial();
  #closing: Promise<void> | null = null;

  constructor(connection: SqliteConnection) {
    this.#connection = connection;
  }

  /** Run `work` in one `BEGIN IMMEDIATE` transaction; rerun while the database is busy (see above). */
  write<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return this.#serial.run(() => this.#retry(operation, this.#busyPolicy(), () => this.#transaction('BEGIN IMMEDIATE', work)));
  }

  /** Run reads in one deferred transaction: a paged read's count and rows come from one snapshot. */
  read<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return this.#serial.run(() => this.#retry(operation, this.#busyPolicy(), () => this.#transaction('BEGIN', work)));
  }

  /**
   * Run the migrations. Several processes opening a fresh file at once can get SQLITE_BUSY without
   * the busy handler being consulted (switching the file to WAL, WAL recovery), so a busy setup is
   * retried with jittered backoff for up to {@link SETUP_RETRY_MS}.
   */
  setup(migrate: (connection: SqliteConnection) => void): Promise<void> {
    const policy = { retries: Infinity, budgetMs: SETUP_RETRY_MS, firstPauseMs: 20, maxPauseMs: 500 };
    return this.#serial.run(() => this.#retry('setup', policy, async () => migrate(this.#connection)));
  }

  /** Close after the operations already called have finished. */
  close(): Promise<void> {
    this.#closing ??= this.#serial.run(async () => this.#connection.close());
    return this.#closing;
  }

  #busyPolicy(): TransactionRetryPolicy {
    return { retries: Infinity, budgetMs: this.#connection.busyTimeoutMs, firstPauseMs: 1, maxPauseMs: 20 };
  }

  /** True while one of this store's own transactions is open on its connection. */
  get active(): boolean {
    return this.#active;
  }

  #active = false;

  async #transaction<T>(begin: string, work: () => Promise<T>): Promise<T> {
    const connection = this.#connection;
    connection.exec(begin);
    this.#active = true;
    connection.taskRows = new Map();
    try {
      connection.checkSchemaVersion();
      const result = await work();
      connection.exec('COMMIT');
      notify.committed(connection);
      return result;
    } catch (error) {
      notify.rolledBack(connection);
      if (!connection.closed && connection.db.inTransaction) connection.exec('ROLLBACK');
      throw error;
    } finally {
      this.#active = false;
      connection.taskRows = null;
    }
  }

  async #retry<T>(operation: string, policy: TransactionRetryPolicy, once: () => Promise<T>): Promise<T> {
    try {
      return await retryTransaction(policy, (error) => isBusy(error) && !this.#connection.closed, once);
    } catch (error) {
      throw toStoreError(error, operation);
    }
  }
}
