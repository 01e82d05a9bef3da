import type { Dialect, StoreCapabilities, WorkerRecord } from '@taskmill/contracts';
import type { RawRow } from './codec.js';
import type { StoreReader, StoreWriter } from './statements.js';
import type { Steps } from './step-programs.js';

/*
 * What a store author writes: the SQL and the connection handling, nothing else. A store is a
 * {@link StoreDriver}; `assembleStore(driver)` turns it into a complete `Store` whose every
 * operation (validation, fencing, transitions, crediting, recovery…) is written once in this kit.
 * Its statements are the {@link StoreReader} and {@link StoreWriter} of statements.ts.
 */

/** A store as its author writes it. */
export interface StoreDriver {
  readonly dialect: Dialect;
  readonly capabilities: StoreCapabilities;
  /** Create or migrate the schema under a cross-process lock. */
  setup(): Promise<void>;
  /** Reads only: the schema exists with every migration of this version, else SchemaNotReadyError (reader mode). */
  checkSchema(): Promise<void>;
  /** Close what the store opened. */
  close(): Promise<void>;
  /** Cross-process wake-ups (only with `capabilities.notify`). */
  listen?(onWake: () => void): Promise<() => Promise<void>>;
  /**
   * Run `work` in ONE transaction: committed when it resolves, rolled back when it throws.
   * Conflicts (deadlocks, busy locks, serialization failures) roll back and rerun `work`;
   * driver errors become `StoreUnavailableError` / `StoreError`, taskmill errors pass through.
   */
  write<T>(operation: string, work: (tx: StoreWriter) => Promise<T>): Promise<T>;
  /** Run reads (one statement each, or one read transaction); driver errors mapped as for `write`. */
  read<T>(operation: string, work: (reader: StoreReader) => Promise<T>): Promise<T>;
  /**
   * Run a step program on a transaction the application opened (`Store.createTasksWithin`): bind
   * the store's SQL to that handle (the driver's native transaction handle, or a drizzle
   * transaction over it; see `drizzleClient`) and run `steps` with `runSteps`, or with
   * `runStepsSync` where the driver is synchronous (every statement has run when this returns).
   * Never BEGIN/COMMIT/ROLLBACK and never retry: the transaction is the application's. A handle the
   * store does not accept (a pool, a closed connection, one not inside a transaction, another
   * database or schema) is a `ValidationError` before anything is written; driver errors are
   * mapped as for `write`. Without this method the store cannot enqueue in foreign transactions.
   */
  writeWithin?<T>(handle: unknown, operation: string, steps: Steps<T>): Promise<T>;
}

/** Re-exported for store authors' convenience. */
export type { RawRow, WorkerRecord };
