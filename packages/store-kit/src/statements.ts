import type { RegisterWorkerInput, TagStat, Task, TaskId, TaskStatus, WorkerStatus } from '@taskmill/contracts';
import type { TaskChange } from './changes.js';
import type { ClaimPlan } from './claim-order.js';
import type { RawRow } from './codec.js';
import type { Condition } from './filters.js';
import type { AttemptFiguresQuery, HealthMinuteRow, MinuteFiguresQuery } from './health-figures.js';
import type { PagedTable, Paging } from './paging.js';
import type { EventRow, TaskInsert } from './rows-to-write.js';

/*
 * The statements a store writes (its SQL, one function per method) and how they are bound to a
 * connection or transaction handle. Every method runs one or a few statements inside the
 * transaction it was handed; none decides anything a rule of the contract decides.
 */

/** Reads, on a connection or inside a transaction. */
export interface StoreReader {
  /** The task row, or null. */
  selectTask(id: TaskId): Promise<RawRow | null>;
  /**
   * One page of rows of `table` matching every condition and `paging.after` (a cursor page's keyset
   * position), ordered by PAGE_ORDER[table], and the total count of rows matching the conditions
   * alone (without `paging.after`).
   */
  selectPage(table: PagedTable, conditions: readonly Condition[], paging: Paging): Promise<{ rows: RawRow[]; total: number }>;
  /** Counts grouped by tag, name, status, ordered the same (NULL tags first). */
  selectTaskStats(conditions: readonly Condition[]): Promise<TagStat[]>;
  selectWorker(workerId: string): Promise<RawRow | null>;
  /** Workers matching the conditions, ordered by `registered_at, worker_id`. */
  selectWorkers(conditions: readonly Condition[]): Promise<RawRow[]>;
  /** The database server's clock, in ms since the epoch (one statement; see docs/failure-model.md, "Clocks"). */
  selectServerTime(): Promise<number>;
  /** Every row of `taskmill_paused_names`, by name. */
  selectPausedNames(): Promise<RawRow[]>;
  /**
   * Per name, the claimable tasks (CLAIMABLE_STATUSES) with `next_run_time <= now`: `name`, `due`
   * (their count) and `oldest_due_at` (their least `next_run_time`), through the claim index.
   */
  selectDueByName(now: number): Promise<RawRow[]>;
  /**
   * Queue health's attempt figures, aggregated in the database over the attempts of `q.names` with
   * `started_at` in `[q.from, q.now]` (the `(name, started_at)` index's range, or a scan where the
   * planner prefers it): rows of the four kinds of AttemptFigureKind, in one statement.
   */
  selectAttemptFigures(q: AttemptFiguresQuery): Promise<RawRow[]>;
  /**
   * Event rows with `id > after`, by id, at most `limit` (a range of the primary key), each with
   * its task's `name` and `tag` as `task_name` and `task_tag` (a LEFT JOIN on the task's primary
   * key: null for a deleted task or task 0). docs/behaviour.md#event-subscriptions
   */
  selectEventsAfter(after: number, limit: number): Promise<RawRow[]>;
  /** Event rows of these ids (at most `EVENT_FEED_LIMITS.max_gaps`), with `task_name` and `task_tag` as {@link selectEventsAfter}; any order. */
  selectEventsByIds(ids: readonly number[]): Promise<RawRow[]>;
  /** The highest event id, or 0 (`MAX(id)`: the last entry of the primary key). */
  selectMaxEventId(): Promise<number>;
  /** The least `wake_at` of all tasks (only suspended tasks have one), or null (docs/behaviour.md#durable-sleep). */
  selectNextWake(): Promise<number | null>;
  /**
   * `id`, `type`, `status`, `result`, `error` of the tasks of these ids (at most 1,000, one
   * statement), and as `final_metadata` the `metadata` of the task's latest
   * `task_permanently_failed` event when its status is `permanently_failed` (else null). Any order.
   */
  selectTaskOutcomes(ids: readonly TaskId[]): Promise<RawRow[]>;
  /** Queue health's minute rows (the kit's minuteFiguresSql) of the attempts of `q.names` with `started_at` in `[q.from, q.to)`, in one statement. */
  selectMinuteFigures(q: MinuteFiguresQuery): Promise<RawRow[]>;
  /** Every row of `taskmill_health_minutes` with `from <= minute < to` (epoch minutes), any order. */
  selectHealthMinutes(from: number, to: number): Promise<RawRow[]>;
}

/** Writes, inside one transaction opened by {@link StoreDriver.write}. */
export interface StoreWriter extends StoreReader {
  /** The task row, locked for the rest of the transaction where the dialect has row locks. */
  lockTask(id: TaskId): Promise<Task | null>;
  /** The task rows of these ids (distinct), by id, locked as {@link lockTask} locks; unknown ids are left out. */
  lockTasks(ids: readonly TaskId[]): Promise<Task[]>;
  /** Insert task rows; returns their ids in input order. */
  insertTasks(rows: readonly TaskInsert[]): Promise<TaskId[]>;
  /**
   * Insert one task row whose `unique_slot` is set; its id, or null when a task of the same name
   * already holds that slot (the UNIQUE index `idx_task_unique (name, unique_slot)` refused it:
   * `ON CONFLICT DO NOTHING`, or a duplicate-key error caught so that only the statement is
   * undone). A concurrent, uncommitted holder is waited for, as the index makes the database do.
   */
  insertUniqueTask(row: TaskInsert): Promise<TaskId | null>;
  /** The id of the task of this name holding `slot`, or null. */
  selectUniqueHolder(name: string, slot: string): Promise<TaskId | null>;
  /** Release the slot of the task of this name holding it when `unique_until <= now` (compare-and-set); true when released. */
  releaseExpiredUnique(name: string, slot: string, now: number): Promise<boolean>;
  /**
   * Apply changes in order: for each, UPDATE the row with the patch (WHERE id and, with a guard,
   * its status/worker/attempt); when no row changed under a guard, skip the rest of that change;
   * else close the attempt row (`task_id`, `attempt`, `ended_at IS NULL`), insert the open
   * attempt row, insert the events. Returns, per change, whether it was applied. Ids of inserted
   * events are returned in draft order, flattened.
   */
  applyChanges(changes: readonly TaskChange[]): Promise<{ applied: boolean[]; event_ids: number[] }>;
  /** Flip a child's `parent_credited` from 0 to 1; true when this call flipped it. */
  markCredited(childId: TaskId): Promise<boolean>;
  /** `completed_children + 1` and append `line` to `children_results` of the parent; the parent row after, locked. */
  addChildResult(parentId: TaskId, line: string): Promise<Task | null>;
  /**
   * Delete the rows of `taskmill_health_minutes` with `minute < before`, then insert `rows`, each
   * ignored when its key (minute, name, kind, k) is there already (a concurrent reader filled it:
   * the same values).
   */
  insertHealthMinutes(rows: readonly HealthMinuteRow[], before: number): Promise<void>;
  /** False when the worker's registry row exists and is not `active`; read so a concurrent retire is serialised with the claim. */
  workerMayClaim(workerId: string): Promise<boolean>;
  /**
   * Due candidates of a claim, locked so no concurrent claim takes them (SKIP LOCKED where the
   * dialect has it): `name IN plan.names`, status in CLAIMABLE_STATUSES, `next_run_time <= now`,
   * in CLAIM_ORDER_SQL, enough to fill `plan.limit` under `plan.caps` (the kit picks the batch
   * with `pickClaims`; extra locked rows are released at commit).
   */
  claimCandidates(plan: ClaimPlan): Promise<Task[]>;
  /**
   * Serialise claims of these (sorted, distinct) names with every other transaction that locks
   * one of them, until this transaction ends: a row lock, an advisory lock, or nothing where the
   * write transaction already excludes every other writer.
   */
  lockClaimNames(names: readonly string[]): Promise<void>;
  /** How many tasks of each name are `running` (names with none may be left out). */
  countRunning(names: readonly string[]): Promise<Record<string, number>>;
  /** Which of these names have a row in `taskmill_paused_names` (any order). */
  pausedAmong(names: readonly string[]): Promise<string[]>;
  /**
   * Attempts of the name with `started_at > since` (the `name` column of the attempts table,
   * through its `(name, started_at)` index): how many, and the `started_at` of the max-th latest
   * of them (`ORDER BY started_at DESC LIMIT 1 OFFSET max - 1`; null when there are fewer; `max` >= 1).
   */
  countStarts(name: string, since: number, max: number): Promise<{ count: number; max_th_latest: number | null }>;
  /** Running tasks of the name per non-null `concurrency_key` (keys with none may be left out). */
  countRunningByKey(name: string): Promise<Record<string, number>>;
  /**
   * The next keys of a keyed name in key order, and their due candidates (docs/behaviour.md#flow-control):
   * the first `visit` distinct non-null `concurrency_key` values greater than `after` (from the
   * smallest when null) among the name's claimable tasks (any due time), found by probing the
   * `(name, concurrency_key, priority DESC, next_run_time, id)` claimable index once per key, never
   * by reading a key's rows; and for each of those keys its first `per_key` claimable tasks with
   * `next_run_time <= now` in CLAIM_ORDER_SQL, locked as {@link claimCandidates} locks. `keys` lists
   * every key visited in key order, also those without a due task; `tasks` in any order.
   */
  keyedCandidates(name: string, now: number, after: string | null, visit: number, perKey: number): Promise<{ keys: string[]; tasks: Task[] }>;
  /** Due claimable tasks of the name with a null `concurrency_key`, in CLAIM_ORDER_SQL, at most `limit`, locked as {@link claimCandidates} locks. */
  unkeyedCandidates(name: string, now: number, limit: number): Promise<Task[]>;
  /** Insert the name's pause row; false (nothing written) when the name already has one. */
  insertPausedName(row: { name: string; paused_at: number; paused_by: string | null; reason: string | null }): Promise<boolean>;
  /** Delete the name's pause row; false when it had none. */
  deletePausedName(name: string): Promise<boolean>;
  /** Insert events that belong to no task (`task_id` 0: a name's pause and resume); their ids in order. */
  insertEvents(rows: readonly EventRow[]): Promise<number[]>;
  /** Running tasks with `start_time + timeout*1000 <= now` or `last_active_time < heartbeat_cutoff`, locked, by id, at most `limit`. */
  timedOutCandidates(now: number, heartbeatCutoff: number, limit: number): Promise<Task[]>;
  /** Running tasks of these workers, locked, by id, at most `limit`. */
  runningTasksOf(workerIds: readonly string[], limit: number): Promise<Task[]>;
  /** Refresh `last_active_time` of the tasks still running under each fence; returns per fence whether it held. */
  touchTasks(fences: ReadonlyArray<{ task_id: TaskId; worker_id: string; attempt: number }>, now: number): Promise<boolean[]>;
  /** Ids of tasks matching every condition, by id; with `limit`, the first `limit` of them (a bulk action's batch). */
  selectTaskIds(conditions: readonly Condition[], limit?: number): Promise<TaskId[]>;
  /** Ids of tasks in `statuses` with `COALESCE(last_active_time, created_at) < before`, oldest first, at most `limit`. */
  selectExpiredTaskIds(statuses: readonly TaskStatus[], before: number, limit: number): Promise<TaskId[]>;
  /**
   * Take the cluster-wide retention lock until this transaction ends, without waiting; false when
   * another transaction holds it. A row or advisory lock, or nothing (true) where the write
   * transaction already excludes every other writer.
   */
  tryLockRetention(): Promise<boolean>;
  /** Delete the tasks with their events, attempts and signals; the counts deleted (signals are not counted). */
  deleteTasksWithAudit(ids: readonly TaskId[]): Promise<{ tasks: number; events: number; attempts: number }>;
  /** Replace the worker's row with a fresh `active` one. */
  replaceWorker(input: RegisterWorkerInput): Promise<void>;
  /** Extend an `active` worker's lease (and replace `meta` when given). */
  extendWorkerLease(workerId: string, now: number, expiresAt: number, meta: string | null | undefined): Promise<void>;
  /** Ids of `active` workers of the pod other than `exceptWorkerId`, by `registered_at, worker_id`, locked. */
  selectPodWorkers(podId: string, exceptWorkerId: string): Promise<string[]>;
  /** Ids of `active` workers with `expires_at < now`, by `expires_at, worker_id`, at most `limit`, locked (skipping locked rows). */
  selectExpiredWorkers(now: number, limit: number): Promise<string[]>;
  /** Still-active workers among `ids` → `status` with `superseded_at`/`dead_at` = now. */
  retireWorkers(ids: readonly string[], status: Extract<WorkerStatus, 'superseded' | 'dead'>, now: number): Promise<void>;
  /** A worker → `dead` from any other status; true when a row changed. */
  markWorkerDead(workerId: string, now: number): Promise<boolean>;
  /** Insert a signal row (`consumed_at` null); its id. */
  insertSignal(row: { task_id: TaskId; name: string; data: string | null; sent_at: number }): Promise<number>;
  /** The oldest unconsumed signal of the task with this name (`ORDER BY id`), locked, or null. */
  selectKeptSignal(taskId: TaskId, name: string): Promise<RawRow | null>;
  /** Set the signal's `consumed_at`. */
  markSignalConsumed(signalId: number, now: number): Promise<void>;
  /** `suspended` tasks with `wake_at <= now`, by `wake_at, id`, at most `limit`, locked (skipping locked rows where the dialect can). */
  dueWakeCandidates(now: number, limit: number): Promise<Task[]>;
  /** A task became claimable now: tell other processes after commit (a no-op without cross-process wake-ups). */
  wake(): Promise<void>;
}

/** The writer methods, each returning its result synchronously. */
export type SyncWriter<K extends keyof StoreWriter = keyof StoreWriter> = {
  [P in K]: (...args: Parameters<StoreWriter[P]>) => Awaited<ReturnType<StoreWriter[P]>>;
};

/**
 * A store's SQL for one kit interface: each method as a function taking the connection or
 * transaction handle first. A function may return its result directly instead of a promise (the
 * SQLite store's are synchronous, so that they can also run inside a synchronous transaction);
 * the bound interface always returns a promise.
 */
export type SqlOf<I, H> = {
  [K in keyof I]: I[K] extends (...args: infer A) => infer R ? (handle: H, ...args: A) => R | Awaited<R> : never;
};

/** Synchronous SQL for some writer methods, handle first (see {@link bindSyncWriter}). */
export type SyncSqlOf<K extends keyof StoreWriter, H> = {
  [P in K]: (handle: H, ...args: Parameters<StoreWriter[P]>) => Awaited<ReturnType<StoreWriter[P]>>;
};

/** Method names of {@link StoreReader}, for binding. */
export const READER_METHODS = [
  'selectTask',
  'selectPage',
  'selectTaskStats',
  'selectWorker',
  'selectWorkers',
  'selectServerTime',
  'selectPausedNames',
  'selectDueByName',
  'selectAttemptFigures',
  'selectEventsAfter',
  'selectEventsByIds',
  'selectMaxEventId',
  'selectNextWake',
  'selectTaskOutcomes',
  'selectMinuteFigures',
  'selectHealthMinutes',
] as const satisfies readonly (keyof StoreReader)[];

/** Method names of {@link StoreWriter}, for binding. */
export const WRITER_METHODS = [
  ...READER_METHODS,
  'lockTask',
  'lockTasks',
  'insertTasks',
  'insertUniqueTask',
  'selectUniqueHolder',
  'releaseExpiredUnique',
  'applyChanges',
  'markCredited',
  'addChildResult',
  'insertHealthMinutes',
  'workerMayClaim',
  'claimCandidates',
  'lockClaimNames',
  'countRunning',
  'pausedAmong',
  'countStarts',
  'countRunningByKey',
  'keyedCandidates',
  'unkeyedCandidates',
  'insertPausedName',
  'deletePausedName',
  'insertEvents',
  'timedOutCandidates',
  'runningTasksOf',
  'touchTasks',
  'selectTaskIds',
  'selectExpiredTaskIds',
  'tryLockRetention',
  'deleteTasksWithAudit',
  'replaceWorker',
  'extendWorkerLease',
  'selectPodWorkers',
  'selectExpiredWorkers',
  'retireWorkers',
  'markWorkerDead',
  'insertSignal',
  'selectKeptSignal',
  'markSignalConsumed',
  'dueWakeCandidates',
  'wake',
] as const satisfies readonly (keyof StoreWriter)[];

// Compile-time check that the lists name every method (a missing name is a type error here).
type Missing<I, L extends readonly PropertyKey[]> = Exclude<keyof I, L[number]>;
const everyReaderMethod: [Missing<StoreReader, typeof READER_METHODS>] extends [never] ? true : never = true;
const everyWriterMethod: [Missing<StoreWriter, typeof WRITER_METHODS>] extends [never] ? true : never = true;
void everyReaderMethod;
void everyWriterMethod;

function bind<T>(handle: unknown, sql: Record<string, (...args: never[]) => unknown>, names: readonly string[]): T {
  const bound: Record<string, unknown> = {};
  for (const name of names) {
    const fn = sql[name];
    bound[name] = (...args: never[]) => {
      try {
        const result = fn(handle as never, ...args);
        return result instanceof Promise ? result : Promise.resolve(result);
      } catch (error) {
        return Promise.reject(error);
      }
    };
  }
  return bound as T;
}

/**
 * The {@link StoreReader} over one handle, from a store's SQL functions (`{ ...queries, ...workers, … }`:
 * extra exports of those modules are ignored).
 */
export function bindReader<H>(handle: H, sql: SqlOf<StoreReader, H>): StoreReader {
  return bind(handle, sql as never, READER_METHODS);
}

/** The {@link StoreWriter} over one transaction handle, from a store's SQL functions. */
export function bindWriter<H>(handle: H, sql: SqlOf<StoreWriter, H>): StoreWriter {
  return bind(handle, sql as never, WRITER_METHODS);
}

/**
 * A {@link SyncWriter} of the listed methods over one handle, from synchronous SQL functions: for
 * `runStepsSync` inside an application's synchronous transaction.
 */
export function bindSyncWriter<K extends keyof StoreWriter, H>(handle: H, sql: SyncSqlOf<K, H>, names: readonly K[]): SyncWriter<K> {
  const bound: Record<string, unknown> = {};
  for (const name of names) {
    const fn = (sql as unknown as Record<string, (...args: unknown[]) => unknown>)[name];
    bound[name] = (...args: unknown[]) => fn(handle, ...args);
  }
  return bound as SyncWriter<K>;
}
