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
 * see (or commit) its uncommitted rows. The one exception is chosen, not stumbled into: writes
 * called together share a transaction, each in its own savepoint (see {@link Transactions}).
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

/**
 * Most writes that share one transaction (see {@link Transactions}): enough for the worker's
 * finish group and its next claim, small enough that one transaction stays short.
 */
const MAX_SHARED_WRITES = 16;

/** A write waiting for its turn. */
interface WriteJob {
  readonly operation: string;
  readonly work: () => Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** Anything else waiting for its turn (reads, setup, close): run alone. */
interface OtherJob {
  readonly run: () => Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type Job = { kind: 'write'; job: WriteJob } | { kind: 'other'; job: OtherJob };

/**
 * The store's transactions: every operation runs through here, one at a time, in call order.
 *
 * Writes called together — one after another in the same synchronous stretch of code, before the
 * store's turn comes (a worker writing its finished group and then claiming its next batch) —
 * share one `BEGIN IMMEDIATE` transaction; each write's promise settles only after the COMMIT.
 * When one of them throws, the transaction is rolled back whole and each write runs again in a
 * transaction of its own, so that only the failing one fails (as retries after SQLITE_BUSY do, a
 * write runs again from the start; none has settled yet). Not a SAVEPOINT per write: a savepoint
 * keeps a copy of every page it changes in a statement journal (a temporary file), which cost more
 * than sharing the commit saved. A commit writes every page the transaction changed to the WAL,
 * and a claim and a finish group change mostly the same pages (the task rows and the indexes on
 * status): together they write about a third fewer pages than apart, and commit once (see the
 * bench README, "SQLite per-task cost"). Nothing waits for a write to come: only writes already
 * called are taken, so a lone write commits exactly as before.
 */
export class Transactions {
  readonly #connection: SqliteConnection;
  readonly #queue: Job[] = [];
  #pumping = false;
  #closing: Promise<void> | null = null;

  constructor(connection: SqliteConnection) {
    this.#connection = connection;
  }

  /** Run `work` in one `BEGIN IMMEDIATE` transaction (shared with the writes called with it); rerun while the database is busy (see above). */
  write<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#enqueue({ kind: 'write', job: { operation, work, resolve: resolve as (value: unknown) => void, reject } });
    });
  }

  /** Run reads in one deferred transaction: a paged read's count and rows come from one snapshot. */
  read<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return this.#other(() => this.#retry(operation, this.#busyPolicy(), () => this.#transaction('BEGIN', work)));
  }

  /**
   * Run the migrations. Several processes opening a fresh file at once can get SQLITE_BUSY without
   * the busy handler being consulted (switching the file to WAL, WAL recovery), so a busy setup is
   * retried with jittered backoff for up to {@link SETUP_RETRY_MS}.
   */
  setup(migrate: (connection: SqliteConnection) => void): Promise<void> {
    const policy = { retries: Infinity, budgetMs: SETUP_RETRY_MS, firstPauseMs: 20, maxPauseMs: 500 };
    return this.#other(() => this.#retry('setup', policy, async () => migrate(this.#connection)));
  }

  /** Close after the operations already called have finished. */
  close(): Promise<void> {
    this.#closing ??= this.#other(async () => this.#connection.close());
    return this.#closing;
  }

  #other<T>(run: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#enqueue({ kind: 'other', job: { run, resolve: resolve as (value: unknown) => void, reject } });
    });
  }

  #enqueue(job: Job): void {
    this.#queue.push(job);
    if (this.#pumping) return;
    this.#pumping = true;
    // a microtask later, as the promise chain this replaces started its work: calls made in the
    // same synchronous stretch are queued by then
    queueMicrotask(() => void this.#pump());
  }

  async #pump(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const next = this.#queue.shift()!;
        if (next.kind === 'other') {
          try {
            next.job.resolve(await next.job.run());
          } catch (error) {
            next.job.reject(error);
          }
          continue;
        }
        const writes = [next.job];
        while (writes.length < MAX_SHARED_WRITES && this.#queue[0]?.kind === 'write') writes.push((this.#queue.shift() as { job: WriteJob }).job);
        await this.#writes(writes);
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** One transaction for these writes; each settles after it. */
  async #writes(writes: WriteJob[]): Promise<void> {
    const policy = this.#busyPolicy();
    if (writes.length === 1) {
      const [job] = writes;
      try {
        job.resolve(await this.#retry(job.operation, policy, () => this.#transaction('BEGIN IMMEDIATE', job.work)));
      } catch (error) {
        job.reject(error);
      }
      return;
    }
    const connection = this.#connection;
    let values: unknown[];
    try {
      values = await retryTransaction(policy, (error) => isBusy(error) && !connection.closed, () =>
        this.#transaction('BEGIN IMMEDIATE', async () => {
          const done: unknown[] = [];
          for (const job of writes) done.push(await job.work());
          return done;
        }),
      );
    } catch (error) {
      // busy for longer than busy_timeout: every write of the transaction failed alike
      if (isBusy(error)) {
        for (const job of writes) job.reject(toStoreError(error, job.operation));
        return;
      }
      // one of them failed: the shared transaction was rolled back whole, and each write runs
      // again alone, so that only the failing one fails
      for (const job of writes) await this.#writes([job]);
      return;
    }
    writes.forEach((job, i) => job.resolve(values[i]));
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
