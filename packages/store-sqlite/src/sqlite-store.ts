import type Database from 'better-sqlite3';
import {
  ConfigurationError,
  StoreUnavailableError,
  type AttemptQuery,
  type ClaimRequest,
  type DeleteTasksFilter,
  type EventQuery,
  type Fence,
  type FinishOutcome,
  type FinishResult,
  type NewTask,
  type Page,
  type PurgeInput,
  type PurgeResult,
  type RecoveredTask,
  type RecoverTasksInput,
  type RegisterWorkerInput,
  type Store,
  type StoreCapabilities,
  type TagStat,
  type Task,
  type TaskAttempt,
  type TaskEvent,
  type TaskId,
  type TaskNoteInput,
  type TaskQuery,
  type TaskStatus,
  type TimedOutTask,
  type WorkerRecord,
  type WorkerStatus,
} from '@taskmill/contracts';
import { claimTasks } from './claim.js';
import { DEFAULT_BUSY_TIMEOUT_MS, openDatabase, parseSqliteConnection, targetForPath, type SqliteTarget } from './connection.js';
import { createTasks } from './create-tasks.js';
import { deleteTasks, purgeExpiredTasks } from './deletion.js';
import { toStoreError } from './errors.js';
import { finishAttempt } from './finish.js';
import { migrate } from './migrate.js';

/** Longest lock wait inside the synchronous driver call, in ms (see #write). */
const BUSY_SLICE_MS = 20;

/** SQLITE_BUSY (another connection holds the write lock), not any other failure. */
function isBusy(error: unknown): boolean {
  return typeof (error as { code?: unknown })?.code === 'string' && (error as { code: string }).code.startsWith('SQLITE_BUSY');
}

/** How long `setup()` keeps retrying while another process holds the database during its own setup. */
const SETUP_RETRY_MS = 30_000;
import * as queries from './queries.js';
import { Sql } from './sql.js';
import { sweepTimedOutTasks } from './sweep.js';
import { heartbeatTasks, recordTaskNote } from './task-activity.js';
import { cancelTask, pauseTask, resumeTask } from './task-control.js';
import * as registry from './workers.js';

/** Options of {@link createSqliteStore} for a database file the store opens itself. */
export interface SqliteFileOptions {
  /** Path of the database file, or `:memory:` for a private in-memory database. */
  path: string;
  /** How long a write waits for another connection's lock, in ms. (Default: 5000) */
  busy_timeout_ms?: number;
}

/** Options of {@link createSqliteStore} for a better-sqlite3 database opened by the caller. */
export interface SqliteDatabaseOptions {
  /** An open better-sqlite3 database; the store never closes it. */
  database: Database.Database;
  /** When given, sets the connection's `busy_timeout` (ms). (Default: left as the caller set it) */
  busy_timeout_ms?: number;
}

/** What {@link createSqliteStore} accepts: a `sqlite:` connection string or an options object. */
export type SqliteStoreOptions = string | SqliteFileOptions | SqliteDatabaseOptions;

type Source = { kind: 'target'; target: SqliteTarget } | { kind: 'database'; database: Database.Database };

/**
 * The SQLite `Store`: one better-sqlite3 connection per store, opened on first use. Every write is
 * one `BEGIN IMMEDIATE` transaction, so SQLite's single-writer lock serialises claims, sweeps and
 * recoveries across every process sharing the file.
 */
class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  readonly capabilities: StoreCapabilities = { notify: false, skipLocked: false };

  #sql: Sql | null = null;
  #closed = false;
  readonly #source: Source;
  readonly #busyTimeoutMs: number | undefined;

  constructor(source: Source, busyTimeoutMs: number | undefined) {
    this.#source = source;
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  #connection(): Sql {
    if (this.#closed) throw new StoreUnavailableError('SQLite store is closed');
    if (!this.#sql) {
      if (this.#source.kind === 'database') {
        if (this.#busyTimeoutMs !== undefined) this.#source.database.pragma(`busy_timeout = ${Math.floor(this.#busyTimeoutMs)}`);
        this.#sql = new Sql(this.#source.database);
      } else {
        // short lock waits inside the driver: #write waits out the rest asynchronously
        this.#sql = new Sql(openDatabase(this.#source.target, Math.min(BUSY_SLICE_MS, this.#busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS)));
      }
    }
    return this.#sql;
  }

  /** Run a read; driver errors become taskmill errors. */
  async #read<T>(operation: string, fn: (sql: Sql) => T): Promise<T> {
    try {
      return fn(this.#connection());
    } catch (error) {
      throw toStoreError(error, operation);
    }
  }

  /**
   * Run a write in one `BEGIN IMMEDIATE` transaction (rolled back when `fn` throws). better-sqlite3
   * waits for a busy lock synchronously, freezing this process's event loop (and with it task and
   * worker heartbeats) for as long as another process writes; so the driver waits at most
   * {@link BUSY_SLICE_MS} at a time and the rest of `busy_timeout` is waited out here, between
   * event-loop turns. A transaction that got SQLITE_BUSY was rolled back whole, so re-running is safe.
   */
  async #write<T>(operation: string, fn: (sql: Sql) => T): Promise<T> {
    const deadline = Date.now() + (this.#busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS);
    for (let attempt = 0; ; attempt++) {
      try {
        const sql = this.#connection();
        return sql.immediate(() => fn(sql));
      } catch (error) {
        if (!isBusy(error) || this.#closed || Date.now() >= deadline) throw toStoreError(error, operation);
        await new Promise((resolve) => setTimeout(resolve, Math.min(2 ** attempt, 20) * (0.5 + Math.random())));
      }
    }
  }

  /**
   * Apply migrations under `BEGIN EXCLUSIVE`. Several processes opening a fresh file at once can
   * get SQLITE_BUSY without the busy handler being consulted (switching the file to WAL, WAL
   * recovery), so a busy setup is retried with jittered backoff for up to {@link SETUP_RETRY_MS}.
   */
  async setup(): Promise<void> {
    const deadline = Date.now() + SETUP_RETRY_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#read('setup', (sql) => migrate(sql.db));
      } catch (error) {
        const busy = error instanceof StoreUnavailableError && /locked|busy/i.test(error.message);
        if (!busy || this.#closed || Date.now() >= deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(20 * 2 ** attempt, 500) * (0.5 + Math.random())));
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const sql = this.#sql;
    this.#sql = null;
    if (sql && this.#source.kind === 'target' && sql.db.open) sql.db.close();
  }

  // ---- tasks ----

  createTasks(tasks: NewTask[], now: number): Promise<TaskId[]> {
    return this.#write('createTasks', (sql) => createTasks(sql, tasks, now));
  }

  claimTasks(request: ClaimRequest): Promise<Task[]> {
    return this.#write('claimTasks', (sql) => claimTasks(sql, request));
  }

  heartbeatTasks(fences: Fence[], now: number): Promise<TaskId[]> {
    return this.#write('heartbeatTasks', (sql) => heartbeatTasks(sql, fences, now));
  }

  finishAttempt(fence: Fence, outcome: FinishOutcome, now: number): Promise<FinishResult> {
    return this.#write('finishAttempt', (sql) => finishAttempt(sql, fence, outcome, now));
  }

  recordTaskNote(taskId: TaskId, fence: Fence | null, note: TaskNoteInput, now: number): Promise<number> {
    return this.#write('recordTaskNote', (sql) => recordTaskNote(sql, taskId, fence, note, now));
  }

  pauseTask(taskId: TaskId, now: number): Promise<Task> {
    return this.#write('pauseTask', (sql) => pauseTask(sql, taskId, now));
  }

  resumeTask(taskId: TaskId, options: { resume_reason?: string }, now: number): Promise<Task> {
    return this.#write('resumeTask', (sql) => resumeTask(sql, taskId, options?.resume_reason, now));
  }

  cancelTask(taskId: TaskId, options: { reason?: string }, now: number): Promise<Task> {
    return this.#write('cancelTask', (sql) => cancelTask(sql, taskId, options?.reason, now));
  }

  sweepTimedOutTasks(input: { now: number; heartbeat_timeout_ms: number; limit: number }): Promise<TimedOutTask[]> {
    return this.#write('sweepTimedOutTasks', (sql) => sweepTimedOutTasks(sql, input));
  }

  getTask(taskId: TaskId): Promise<Task | null> {
    return this.#read('getTask', (sql) => queries.getTask(sql, taskId));
  }

  queryTasks(query: TaskQuery): Promise<Page<Task>> {
    return this.#read('queryTasks', (sql) => queries.queryTasks(sql, query ?? {}));
  }

  getTaskStatsByTag(tag?: string, status?: TaskStatus): Promise<TagStat[]> {
    return this.#read('getTaskStatsByTag', (sql) => queries.getTaskStatsByTag(sql, tag, status));
  }

  deleteTasks(filter: DeleteTasksFilter): Promise<number> {
    return this.#write('deleteTasks', (sql) => deleteTasks(sql, filter ?? {}));
  }

  // ---- worker registry ----

  registerWorker(input: RegisterWorkerInput): Promise<WorkerRecord> {
    return this.#write('registerWorker', (sql) => registry.registerWorker(sql, input));
  }

  heartbeatWorker(workerId: string, now: number, ttlMs: number): Promise<WorkerRecord | null> {
    return this.#write('heartbeatWorker', (sql) => registry.heartbeatWorker(sql, workerId, now, ttlMs));
  }

  supersedeWorkers(podId: string, exceptWorkerId: string, now: number): Promise<string[]> {
    return this.#write('supersedeWorkers', (sql) => registry.supersedeWorkers(sql, podId, exceptWorkerId, now));
  }

  reapExpiredWorkers(now: number, limit: number): Promise<string[]> {
    return this.#write('reapExpiredWorkers', (sql) => registry.reapExpiredWorkers(sql, now, limit));
  }

  markWorkerDead(workerId: string, now: number): Promise<boolean> {
    return this.#write('markWorkerDead', (sql) => registry.markWorkerDead(sql, workerId, now));
  }

  recoverWorkerTasks(input: RecoverTasksInput): Promise<RecoveredTask[]> {
    return this.#write('recoverWorkerTasks', (sql) => registry.recoverWorkerTasks(sql, input));
  }

  getWorker(workerId: string): Promise<WorkerRecord | null> {
    return this.#read('getWorker', (sql) => registry.getWorker(sql, workerId));
  }

  listWorkers(filter?: { pod_id?: string; status?: WorkerStatus }): Promise<WorkerRecord[]> {
    return this.#read('listWorkers', (sql) => registry.listWorkers(sql, filter ?? {}));
  }

  // ---- audit reads ----

  queryTaskEvents(taskId: TaskId, query: EventQuery): Promise<Page<TaskEvent>> {
    return this.#read('queryTaskEvents', (sql) => queries.queryTaskEvents(sql, taskId, query ?? {}));
  }

  queryWorkflowEvents(rootId: TaskId, query: EventQuery): Promise<Page<TaskEvent>> {
    return this.#read('queryWorkflowEvents', (sql) => queries.queryWorkflowEvents(sql, rootId, query ?? {}));
  }

  queryTaskAttempts(taskId: TaskId, query: AttemptQuery): Promise<Page<TaskAttempt>> {
    return this.#read('queryTaskAttempts', (sql) => queries.queryTaskAttempts(sql, taskId, query ?? {}));
  }

  queryWorkflowAttempts(rootId: TaskId, query: AttemptQuery): Promise<Page<TaskAttempt>> {
    return this.#read('queryWorkflowAttempts', (sql) => queries.queryWorkflowAttempts(sql, rootId, query ?? {}));
  }

  // ---- retention ----

  purgeExpiredTasks(input: PurgeInput): Promise<PurgeResult> {
    return this.#write('purgeExpiredTasks', (sql) => purgeExpiredTasks(sql, input));
  }
}

function checkBusyTimeout(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ConfigurationError('busy_timeout_ms must be a non-negative number');
  }
  return value;
}

function isDatabase(value: unknown): value is Database.Database {
  return typeof value === 'object' && value !== null && typeof (value as Database.Database).prepare === 'function' &&
    typeof (value as Database.Database).transaction === 'function';
}

/**
 * Create a SQLite store. Accepts `sqlite:<path>`, `sqlite:///abs/path.db`, `sqlite::memory:` (a
 * private in-memory database per store), `{ path }`, or `{ database }` (an open better-sqlite3
 * database that `close()` leaves open). Nothing is opened until the first call (`setup()` or any
 * other); a bad connection string throws `ConfigurationError` at once.
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  if (typeof options === 'string') {
    return new SqliteStore({ kind: 'target', target: parseSqliteConnection(options) }, undefined);
  }
  if (typeof options !== 'object' || options === null) {
    throw new ConfigurationError('createSqliteStore needs a sqlite: connection string or an options object');
  }
  const busy = checkBusyTimeout(options.busy_timeout_ms);
  if ('database' in options && options.database !== undefined) {
    if (!isDatabase(options.database)) throw new ConfigurationError('database must be a better-sqlite3 Database');
    return new SqliteStore({ kind: 'database', database: options.database }, busy);
  }
  const path = (options as SqliteFileOptions).path;
  if (typeof path !== 'string') throw new ConfigurationError('createSqliteStore needs a path or a database');
  return new SqliteStore({ kind: 'target', target: path.startsWith('sqlite:') ? parseSqliteConnection(path) : targetForPath(path) }, busy);
}
