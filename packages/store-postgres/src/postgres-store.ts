import type {
  AttemptQuery,
  ClaimRequest,
  DeleteTasksFilter,
  EventQuery,
  Fence,
  FinishOutcome,
  FinishResult,
  NewTask,
  Page,
  PurgeInput,
  PurgeResult,
  RecoveredTask,
  RecoverTasksInput,
  RegisterWorkerInput,
  Store,
  StoreCapabilities,
  TagStat,
  Task,
  TaskAttempt,
  TaskEvent,
  TaskId,
  TaskNoteInput,
  TaskQuery,
  TaskStatus,
  TimedOutTask,
  WorkerRecord,
  WorkerStatus,
} from '@taskmill/contracts';
import { claimTasks } from './claim.js';
import { type Connection, openConnection, type PostgresStoreOptions } from './connection.js';
import { createContext, type StoreContext } from './context.js';
import { createTasks } from './create-tasks.js';
import { finishAttempt } from './finish.js';
import * as maintenance from './maintenance.js';
import { migrate } from './migrate.js';
import { listenForWakeups } from './notify.js';
import * as queries from './queries.js';
import * as control from './task-control.js';
import * as workers from './workers.js';

/**
 * A taskmill {@link Store} on PostgreSQL (postgres-js). Claims use `FOR UPDATE SKIP LOCKED`;
 * wake-ups travel by LISTEN/NOTIFY. Every operation lives in its own module; this class only
 * wires them to one connection.
 */
class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  readonly capabilities: StoreCapabilities = { notify: true, skipLocked: true };
  readonly #connection: Connection;
  readonly #ctx: StoreContext;
  readonly #listeners = new Set<() => Promise<void>>();

  constructor(connection: Connection) {
    this.#connection = connection;
    this.#ctx = createContext(connection.sql, connection.schema);
  }

  setup(): Promise<void> {
    return migrate(this.#ctx);
  }

  async listen(onWake: () => void): Promise<() => Promise<void>> {
    const unlisten = await listenForWakeups(this.#ctx, onWake);
    const unsubscribe = async () => {
      this.#listeners.delete(unsubscribe);
      await unlisten();
    };
    this.#listeners.add(unsubscribe);
    return unsubscribe;
  }

  async close(): Promise<void> {
    const pending = [...this.#listeners].map((unsubscribe) => unsubscribe().catch(() => {}));
    await Promise.all(pending);
    // Nothing of ours is in flight when close() is called, so the grace period is short: after a
    // server-side kill postgres-js can wait on a dead connection until the timeout forces it.
    if (this.#connection.owned) await this.#connection.sql.end({ timeout: 1 });
  }

  // ── tasks ──────────────────────────────────────────────────────────────────────────────
  createTasks(tasks: NewTask[], now: number): Promise<TaskId[]> {
    return createTasks(this.#ctx, tasks, now);
  }
  claimTasks(request: ClaimRequest): Promise<Task[]> {
    return claimTasks(this.#ctx, request);
  }
  heartbeatTasks(fences: Fence[], now: number): Promise<TaskId[]> {
    return control.heartbeatTasks(this.#ctx, fences, now);
  }
  finishAttempt(fence: Fence, outcome: FinishOutcome, now: number): Promise<FinishResult> {
    return finishAttempt(this.#ctx, fence, outcome, now);
  }
  recordTaskNote(taskId: TaskId, fence: Fence | null, note: TaskNoteInput, now: number): Promise<number> {
    return control.recordTaskNote(this.#ctx, taskId, fence, note, now);
  }
  pauseTask(taskId: TaskId, now: number): Promise<Task> {
    return control.pauseTask(this.#ctx, taskId, now);
  }
  resumeTask(taskId: TaskId, options: { resume_reason?: string }, now: number): Promise<Task> {
    return control.resumeTask(this.#ctx, taskId, options, now);
  }
  cancelTask(taskId: TaskId, options: { reason?: string }, now: number): Promise<Task> {
    return control.cancelTask(this.#ctx, taskId, options, now);
  }
  sweepTimedOutTasks(input: { now: number; heartbeat_timeout_ms: number; limit: number }): Promise<TimedOutTask[]> {
    return maintenance.sweepTimedOutTasks(this.#ctx, input);
  }
  getTask(taskId: TaskId): Promise<Task | null> {
    return queries.getTask(this.#ctx, taskId);
  }
  queryTasks(query: TaskQuery): Promise<Page<Task>> {
    return queries.queryTasks(this.#ctx, query);
  }
  getTaskStatsByTag(tag?: string, status?: TaskStatus): Promise<TagStat[]> {
    return queries.getTaskStatsByTag(this.#ctx, tag, status);
  }
  deleteTasks(filter: DeleteTasksFilter): Promise<number> {
    return queries.deleteTasks(this.#ctx, filter);
  }

  // ── worker registry ────────────────────────────────────────────────────────────────────
  registerWorker(input: RegisterWorkerInput): Promise<WorkerRecord> {
    return workers.registerWorker(this.#ctx, input);
  }
  heartbeatWorker(workerId: string, now: number, ttlMs: number): Promise<WorkerRecord | null> {
    return workers.heartbeatWorker(this.#ctx, workerId, now, ttlMs);
  }
  supersedeWorkers(podId: string, exceptWorkerId: string, now: number): Promise<string[]> {
    return workers.supersedeWorkers(this.#ctx, podId, exceptWorkerId, now);
  }
  reapExpiredWorkers(now: number, limit: number): Promise<string[]> {
    return workers.reapExpiredWorkers(this.#ctx, now, limit);
  }
  markWorkerDead(workerId: string, now: number): Promise<boolean> {
    return workers.markWorkerDead(this.#ctx, workerId, now);
  }
  recoverWorkerTasks(input: RecoverTasksInput): Promise<RecoveredTask[]> {
    return maintenance.recoverWorkerTasks(this.#ctx, input);
  }
  getWorker(workerId: string): Promise<WorkerRecord | null> {
    return workers.getWorker(this.#ctx, workerId);
  }
  listWorkers(filter?: { pod_id?: string; status?: WorkerStatus }): Promise<WorkerRecord[]> {
    return workers.listWorkers(this.#ctx, filter);
  }

  // ── audit reads ────────────────────────────────────────────────────────────────────────
  queryTaskEvents(taskId: TaskId, query: EventQuery): Promise<Page<TaskEvent>> {
    return queries.queryTaskEvents(this.#ctx, taskId, query);
  }
  queryWorkflowEvents(rootId: TaskId, query: EventQuery): Promise<Page<TaskEvent>> {
    return queries.queryWorkflowEvents(this.#ctx, rootId, query);
  }
  queryTaskAttempts(taskId: TaskId, query: AttemptQuery): Promise<Page<TaskAttempt>> {
    return queries.queryTaskAttempts(this.#ctx, taskId, query);
  }
  queryWorkflowAttempts(rootId: TaskId, query: AttemptQuery): Promise<Page<TaskAttempt>> {
    return queries.queryWorkflowAttempts(this.#ctx, rootId, query);
  }

  // ── retention ──────────────────────────────────────────────────────────────────────────
  purgeExpiredTasks(input: PurgeInput): Promise<PurgeResult> {
    return maintenance.purgeExpiredTasks(this.#ctx, input);
  }
}

/**
 * Create a PostgreSQL store from a `postgres://` / `postgresql://` / `psql://` URL or options.
 * Never connects: the first query (usually `setup()`) opens the pool.
 *
 * @throws ConfigurationError for a missing or malformed URL, an unknown scheme or a bad option.
 */
export function createPostgresStore(options: string | PostgresStoreOptions): Store {
  return new PostgresStore(openConnection(options));
}
