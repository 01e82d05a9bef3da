import type { Store } from '@taskmill/contracts';
import type { TABLES } from '@taskmill/store-kit';

/** A table name of {@link TABLES}. */
export type TableName = (typeof TABLES)[keyof typeof TABLES];

/**
 * What a store's `test/conformance.test.ts` hands to {@link runStoreConformance}: how to make
 * isolated stores, and a back door to read what was really persisted.
 */
export interface ConformanceHarness {
  /** A fresh store on its own empty database (or schema), `setup()` already done. */
  createStore(): Promise<Store>;
  /** A second, independent store instance (own connections) on the same database as `store`. */
  createPeer(store: Store): Promise<Store>;
  /**
   * Raw rows of `table` in the database of `store`, bypassing the store's decoding, filtered by
   * equality on the given columns, ordered by the table's primary key.
   */
  rawRows(store: Store, table: TableName, where?: Record<string, unknown>): Promise<Record<string, unknown>[]>;
  /**
   * Insert one raw row into `table` of `store`'s database, bypassing the store (for states the
   * store's own operations never produce, such as a stray open attempt row). Values are bound as
   * given; booleans as 0/1 where the dialect needs it.
   */
  insertRaw(store: Store, table: TableName, row: Record<string, unknown>): Promise<void>;
  /**
   * In a transaction on the application's own connection to `store`'s database, lock the rows of
   * `table` matching every `where` column for update (SQLite, which has no row locks: take the
   * database's write lock, `BEGIN IMMEDIATE`), await `during` while they are held, then roll back.
   * Lets a test keep another store's transaction open at a known point: a write of those rows waits
   * there, holding whatever it took before.
   */
  lockRows(store: Store, table: TableName, where: Record<string, unknown>, during: () => Promise<void>): Promise<void>;
  /**
   * The kinds of application transaction the store's `createTasksWithin` accepts (its driver's
   * own and drizzle's), for the transactional-enqueue tests. None: those tests are skipped.
   */
  appTransactions?: AppTransaction[];
  /** Handles `createTasksWithin` must refuse on `store` (a pool, a closed one, one outside a transaction, another database…). */
  badHandles?(store: Store): Promise<BadHandle[]>;
  /** Drop whatever the harness created (called once, after all tests). */
  cleanup?(): Promise<void>;
  /** Test names to skip on this store, each with the reason (a named capability gap). */
  skip?: Record<string, string>;
}

/** One kind of transaction an application opens on a store's database with its own connection. */
export interface AppTransaction {
  /** e.g. `postgres-js`, `drizzle postgres-js`. */
  kind: string;
  /**
   * Synchronous transaction function (better-sqlite3): `body` must do its work during the call,
   * and `during` cannot run while the transaction is open.
   */
  sync?: boolean;
  /** The open transaction holds the database's write lock, so another store's writes (a claim) wait for its end. */
  exclusive?: boolean;
  /**
   * Open a transaction on `store`'s database with the application's own connection, call `body`
   * with its handle, then (async kinds) await `during` while it is still open, then commit
   * (`'commit'`) or roll it back by throwing inside it (`'rollback'`). Resolves to what `body`'s
   * promise resolved to (after the end for sync kinds); rejects with what `body` threw/rejected.
   */
  run<T>(store: Store, outcome: 'commit' | 'rollback', body: (handle: unknown) => Promise<T>, during?: () => Promise<void>): Promise<T>;
}

/** A handle a store must refuse; `close` releases what making it opened. */
export interface BadHandle {
  what: string;
  /** Runs the refused call with the handle (inside whatever state the handle needs). */
  use(call: (handle: unknown) => Promise<unknown>): Promise<unknown>;
}
