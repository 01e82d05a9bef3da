import type { Store } from '@taskmill/contracts';
import type { TABLES } from '@taskmill/contracts/store-kit';

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
  /** Drop whatever the harness created (called once, after all tests). */
  cleanup?(): Promise<void>;
  /** Test names to skip on this store, each with the reason (a named capability gap). */
  skip?: Record<string, string>;
}
