import type { Dialect, StoreCapabilities, Task, TaskId, WorkerRecord } from '@taskmill/contracts';
import type { ClaimPlan } from './claim-order.js';
import type { RawRow } from './codec.js';
import type { TaskInsert } from './rows-to-write.js';
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
  /**
   * The common path in one round trip each (docs/behaviour.md#one-round-trip), where the store
   * can: optional. The kit decides when a claim or a finished group takes it (operations/plain.ts)
   * and falls back to `write` for everything else.
   */
  plain?: PlainPaths;
}

/**
 * A claim and a group of completions, each atomic on its own in one round trip (one statement,
 * or one packet the server runs as one transaction), with no BEGIN/COMMIT exchanged. They write
 * exactly the rows the general path writes (the kit's `changes.claim` and `changes.complete`,
 * events and attempts included); the conformance suite `plain-paths` compares the two row by row.
 * Conflicts (deadlocks, serialization failures) are retried and driver errors mapped as `write`
 * does.
 */
export interface PlainPaths {
  /**
   * Claim due tasks of `plan` (no caps, rate, key or cluster limits: the kit never passes one
   * with them) as `operations.claimBatch` does on its common path: nothing when the worker's
   * registry row exists and is not `active` (read with a share lock, as `workerMayClaim`); no
   * task of a paused name; at most `plan.limit` candidates in claim order, locked and skipped
   * when locked by others; each claimed as `changes.claim` does (a failed or timed-out one with
   * its retry). The claimed rows after the claim, in claim order.
   */
  claim(plan: ClaimPlan): Promise<Task[]>;
  /**
   * Complete a group's tasks as `changes.complete` does, all or nothing, in task id order: when
   * any of the tasks has a parent (a child credits its parent, which only the general path does),
   * nothing at all is written. Otherwise each task whose row holds its item's fence (status
   * `running`, same worker and attempt, as locked by the statement) is completed; `applied` holds
   * those rows after the change, `found` the other ids' rows as locked (absent ids in neither).
   * Ids are distinct.
   */
  complete(items: readonly PlainCompletion[], now: number): Promise<{ applied: Task[]; found: Task[] }>;
  /**
   * Insert top-level task rows without unique keys (at most `WRITE_CHUNK`) with their
   * `task_created` events (`changes.createdEvent`), and when `wake` a wake-up delivered at commit,
   * as `operations.createTasks` does; ids in input order. Optional.
   */
  create?(rows: readonly TaskInsert[], now: number, wake: boolean): Promise<TaskId[]>;
}

/** One `completed` outcome for {@link PlainPaths.complete}. */
export interface PlainCompletion {
  task_id: TaskId;
  worker_id: string;
  attempt: number;
  /** The handler's result, encoded as the row stores it (JSON text) or null. */
  result: string | null;
}

/** Re-exported for store authors' convenience. */
export type { RawRow, WorkerRecord };
