import type { AuditReadStore } from './audit-read-store.js';
import type { RetentionStore } from './retention-store.js';
import type { TaskStore } from './task-store.js';
import type { WorkerRegistryStore } from './worker-registry-store.js';

/*
 * The Store contract: atomic, semantic operations that core, audit and retention are written
 * against. A store owns its connections and transactions; none of its types leak here. Its four
 * parts live in task-store.ts, worker-registry-store.ts, audit-read-store.ts and retention-store.ts.
 *
 * Rules every implementation follows (the conformance suite checks each):
 * - Every method that changes a task writes the task row, its audit events and its attempt rows
 *   in ONE transaction. Each event also sets the task's `last_event_time`/`last_event_type`.
 * - `now` is always passed in by the caller (epoch ms); a store never reads the database clock.
 * - Every write about a claimed task takes a {@link Fence} and changes nothing unless the task is
 *   still `running` with the fence's `worker_id` AND `attempt`.
 * - Crediting a finished child to its parent happens in the same transaction as the child's final
 *   transition, exactly once per child (guarded by the child's `parent_credited` flag).
 * - Raw driver errors never escape: connection failures become `StoreUnavailableError`, others
 *   `StoreError` (both from ./errors.ts), with `cause` kept.
 */

/** SQL dialect of a store. Core never branches on it; it is for diagnostics and test names. */
export type Dialect = 'sqlite' | 'postgres' | 'mysql';

/** What a store can do beyond the contract's baseline. */
export interface StoreCapabilities {
  /** `listen()` delivers cross-process wake-ups (PostgreSQL LISTEN/NOTIFY). */
  readonly notify: boolean;
  /** Claims use `FOR UPDATE SKIP LOCKED`. */
  readonly skipLocked: boolean;
  /**
   * Event ids are handed out in commit order (one writer at a time, ids never reused: SQLite), so
   * a missing id is a deleted event and the event feed never holds at one
   * (docs/behaviour.md#event-subscriptions). False where a transaction can take an id and commit
   * after a higher one (PostgreSQL, MySQL/MariaDB).
   */
  readonly orderedEventIds: boolean;
}

/** A complete store. Made by a store package's factory (`createSqliteStore()`…). */
export interface Store extends TaskStore, WorkerRegistryStore, AuditReadStore, RetentionStore {
  readonly dialect: Dialect;
  readonly capabilities: StoreCapabilities;
  /** Create or migrate the schema, under a cross-process migration lock. Idempotent. */
  setup(): Promise<void>;
  /**
   * Check, with reads only, that the schema exists and has every migration of this version;
   * else throw SchemaNotReadyError. What reader mode (`migrate: false`) runs instead of `setup()`.
   * Optional for stores made before reader mode existed.
   */
  checkSchema?(): Promise<void>;
  /**
   * Subscribe to cross-process "a task may be due" wake-ups (only when `capabilities.notify`).
   * Resolves to an unsubscribe function.
   */
  listen?(onWake: () => void): Promise<() => Promise<void>>;
  /** Close every connection the store opened (not those passed in by the caller). */
  close(): Promise<void>;
  /**
   * The database's clock in ms since the epoch, read by one statement. Every time a store compares
   * across processes (leases, due times, timeouts) is meant to be on this clock: core measures its
   * process's offset from it and corrects the `now` it passes (see docs/failure-model.md, "Clocks").
   * SQLite reads the operating system's clock through SQLite itself, the clock every process of
   * the file shares.
   */
  serverTime(): Promise<number>;
}

/** Marker used by core to tell a store object from other values passed as `dbConnection`. */
export function isStore(value: unknown): value is Store {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Store).claimTasks === 'function' &&
    typeof (value as Store).setup === 'function' &&
    typeof (value as Store).dialect === 'string'
  );
}
