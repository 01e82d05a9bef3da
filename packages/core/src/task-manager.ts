import { hostname } from 'node:os';
import {
  LifecycleError,
  StoreUnavailableError,
  TaskNotFoundError,
  TaskTimeoutError,
  ValidationError,
  isTaskType,
  type DeleteTasksFilter,
  type Fence,
  type FinishOutcome,
  type NewTask,
  type Store,
  type TagStat,
  type Task,
  type TaskAttempt,
  type TaskEvent,
  type TaskId,
  type TaskQuery,
  type TaskStatus,
  type WorkerRecord,
  type WorkerStatus,
  SWEEP_ERRORS,
  isStore,
} from '@taskmill/contracts';
import { openStore, targetFor, type StoreTarget } from './connection.js';
import { DEFAULT_CRON_TZ, nextCronTime } from './cron.js';
import { HandlerRegistry, type HandlerDefinition } from './handler-registry.js';
import { resolveOptions, optionsObject, type ResolvedOptions, type TaskManagerOptions } from './options.js';
import { failureOutcome, outcomeOf } from './outcome.js';
import { toJsonText } from './serialize.js';
import { SubTasks, Suspension } from './suspension.js';
import { buildTaskContext, type AttemptState } from './task-context.js';
import type {
  AsyncBatchItem,
  AsyncOptions,
  CronOptions,
  HandlerConfig,
  NextFn,
  PayloadOf,
  TaskHandler,
  TaskMap,
  UntypedTaskMap,
} from './types.js';
import * as v from './validate.js';
import { WakeSignal } from './wake-signal.js';

/** Lifecycle states of a manager. */
export type ManagerState = 'init' | 'running' | 'stopping' | 'stopped';

interface InFlight {
  task: Task;
  def: HandlerDefinition;
  state: AttemptState;
  timer: NodeJS.Timeout | undefined;
  /** The outcome was written (or given up): later results of the handler are discarded. */
  finalized: boolean;
}

const ASYNC_OPTION_KEYS = ['delay', 'priority', 'timeout', 'max_retries', 'retry_interval', 'tag'] as const;
const CRON_OPTION_KEYS = ['priority', 'timeout', 'max_retries', 'retry_interval', 'tag', 'tz'] as const;
const TASK_FILTER_KEYS = ['tag', 'status', 'name', 'worker_id', 'parent_id', 'root_id', 'type', 'workflow_root_id', 'suspend_reason'] as const;
const SWEEP_BATCH = 100;
/** Largest delay setTimeout honours. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The taskmill task manager: registers handlers, enqueues one-off and cron tasks, claims and runs
 * them, and answers queries. Parameterise it with a {@link TaskMap} to type-check payloads.
 *
 * Constructing never connects; the schema is created by `setup()` or on first use.
 */
export class TaskManager<M extends TaskMap = UntypedTaskMap> {
  /** Resolved options. */
  readonly options: ResolvedOptions;
  private readonly registry: HandlerRegistry;
  private readonly target: StoreTarget | null;
  private readonly dbConnection: string | Store;
  private store: Store | undefined;
  private readonly ownsStore: boolean;
  private storePromise: Promise<Store> | undefined;
  private setupPromise: Promise<void> | undefined;
  private lifecycle: ManagerState = 'init';
  private paused = false;
  /** Superseded by a newer worker of the same pod: do not claim. */
  private fenced = false;
  private readonly inflight = new Map<TaskId, InFlight>();
  private readonly wakeSignal = new WakeSignal();
  private loopPromise: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];
  /** Maintenance ticks under way. */
  private readonly ticks = new Set<Promise<void>>();
  private unlisten: (() => Promise<void>) | undefined;

  constructor(options: TaskManagerOptions) {
    this.options = resolveOptions(options);
    this.dbConnection = options.dbConnection;
    this.target = targetFor(options.dbConnection, options.dbType);
    this.ownsStore = typeof options.dbConnection === 'string';
    if (isStore(options.dbConnection)) this.store = options.dbConnection;
    this.registry = new HandlerRegistry(this.options);
  }

  /** `'init' | 'running' | 'stopping' | 'stopped'`. */
  get state(): ManagerState {
    return this.lifecycle;
  }

  /** True while `pause()` holds the claim gate closed. */
  get isPaused(): boolean {
    return this.paused;
  }

  // ---------------------------------------------------------------- connection

  private async getStore(): Promise<Store> {
    if (this.lifecycle === 'stopped') throw new LifecycleError('TaskManager is stopped');
    if (this.store) return this.store;
    this.storePromise ??= openStore(this.dbConnection as string, this.target!).then((store) => (this.store = store));
    try {
      return await this.storePromise;
    } catch (error) {
      this.storePromise = undefined;
      throw error;
    }
  }

  /** The store, with the schema set up (once per manager; retried after a failure). */
  private async ready(): Promise<Store> {
    const store = await this.getStore();
    this.setupPromise ??= store.setup().catch((error) => {
      this.setupPromise = undefined;
      throw error;
    });
    await this.setupPromise;
    return store;
  }

  /** Create or migrate the schema (also done by `start()` and on first use). */
  async setup(): Promise<void> {
    await this.ready();
  }

  // ---------------------------------------------------------------- handlers

  /**
   * Register handlers: `use(name, fn)`, `use(name, {handler, ...defaults})` or `use({name: handler})`.
   * Re-registering replaces the handler for future claims (hot reload). Never changes pause state.
   */
  use<K extends keyof M & string>(name: K, handler: TaskHandler<M, K> | HandlerConfig<M, K>): void;
  use(handlers: { [K in keyof M & string]?: TaskHandler<M, K> | HandlerConfig<M, K> }): void;
  use(nameOrMap: unknown, handler?: unknown): void {
    if (arguments.length === 1 && v.isPlainObject(nameOrMap)) {
      // validate everything first so a bad entry registers nothing
      const staged = new HandlerRegistry(this.options);
      for (const [name, value] of Object.entries(nameOrMap)) staged.set(name, value);
      for (const [name, value] of Object.entries(nameOrMap)) this.registry.set(name, value);
    } else {
      this.registry.set(nameOrMap, handler);
    }
    this.wakeSignal.wake();
  }

  /** Unregister handlers; returns how many were removed. Running attempts keep their handler. */
  unuse(names: (keyof M & string) | (keyof M & string)[]): number {
    const list = Array.isArray(names) ? names : [names];
    let removed = 0;
    for (const name of list) if (typeof name === 'string' && this.registry.delete(name)) removed++;
    return removed;
  }

  /** `{name, description}` of a registered handler. */
  getTaskInfo(name: keyof M & string): { name: string; description: string } {
    const def = this.registry.require(name, (n) => `No task registered with name: ${n}`);
    return { name: def.name, description: def.description };
  }

  // ---------------------------------------------------------------- submission

  /** Enqueue a one-off task; resolves to its id. */
  async async<K extends keyof M & string>(name: K, payload?: PayloadOf<M, K>, options?: AsyncOptions): Promise<TaskId> {
    const [id] = await this.insert([this.asyncTask(name, payload, options, Date.now())]);
    return id;
  }

  /** Enqueue many one-off tasks in one transaction (all or nothing); resolves to their ids in order. */
  async asyncMany(items: AsyncBatchItem<M>[]): Promise<TaskId[]> {
    if (!Array.isArray(items)) throw new ValidationError('asyncMany expects an array of {name, payload, options}');
    const now = Date.now();
    const tasks = items.map((item, i) => {
      if (!v.isPlainObject(item)) throw new ValidationError(`asyncMany item ${i} must be an object`);
      v.knownKeys(item, ['name', 'payload', 'options'], 'asyncMany item');
      return this.asyncTask(item.name as string, item.payload, item.options, now);
    });
    if (tasks.length === 0) return [];
    return this.insert(tasks);
  }

  /** Register a cron task (UTC unless `tz` is given); resolves to its id. */
  async cron<K extends keyof M & string>(name: K, cronExpr: string, payload?: PayloadOf<M, K>, options?: CronOptions): Promise<TaskId> {
    const def = this.registry.require(name);
    const opts = optionsObject(options, 'cron options');
    v.knownKeys(opts, CRON_OPTION_KEYS, 'cron');
    const tz = opts.tz === undefined ? DEFAULT_CRON_TZ : v.nonEmptyString(opts.tz, 'tz');
    const now = Date.now();
    const nextRun = nextCronTime(cronExpr, tz, now);
    const [id] = await this.insert([{ ...this.taskDefaults(def, payload, opts), type: 'cron', next_run_time: nextRun, cron_expr: cronExpr, cron_tz: tz }]);
    return id;
  }

  private asyncTask(name: string, payload: unknown, options: unknown, now: number): NewTask {
    const def = this.registry.require(name);
    const opts = optionsObject(options, 'async options');
    v.knownKeys(opts, ASYNC_OPTION_KEYS, 'async');
    const delay = opts.delay === undefined ? 0 : v.nonNegativeNumber(opts.delay, 'delay');
    return { ...this.taskDefaults(def, payload, opts), type: 'async', next_run_time: now + Math.round(delay * 1000), cron_expr: null, cron_tz: null };
  }

  private taskDefaults(def: HandlerDefinition, payload: unknown, opts: Record<string, unknown>) {
    return {
      name: def.name,
      payload: toJsonText(payload, `Payload of task ${def.name}`),
      priority: opts.priority !== undefined ? v.integer(opts.priority, 'priority') : (def.priority ?? 0),
      tag: v.optionalTag(opts.tag),
      timeout: opts.timeout !== undefined ? v.positiveNumber(opts.timeout, 'timeout') : def.timeout,
      max_retries: opts.max_retries !== undefined ? v.nonNegativeInteger(opts.max_retries, 'max_retries') : def.max_retries,
      retry_interval: opts.retry_interval !== undefined ? v.nonNegativeNumber(opts.retry_interval, 'retry_interval') : def.retry_interval,
    };
  }

  private async insert(tasks: NewTask[]): Promise<TaskId[]> {
    const store = await this.ready();
    const ids = await store.createTasks(tasks, Date.now());
    for (const task of tasks) this.wakeSignal.wakeAt(task.next_run_time);
    return ids;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Set up the schema, register this worker and start claiming. Throws after `stop()`. */
  async start(): Promise<void> {
    if (this.lifecycle === 'running') return;
    if (this.lifecycle !== 'init') throw new LifecycleError('Cannot restart a stopped TaskManager');
    const store = await this.ready();
    await this.registerWorker(store);
    if (store.capabilities.notify && store.listen) {
      this.unlisten = await store.listen(() => this.wakeSignal.wake());
    }
    this.lifecycle = 'running';
    this.every(this.options.task_heartbeat_interval, () => this.maintenanceTick(store));
    this.every(this.options.worker_heartbeat_interval, () => this.workerTick(store));
    this.loopPromise = this.claimLoop(store);
  }

  /** Close the claim gate; in-flight handlers carry on. */
  pause(): void {
    this.paused = true;
  }

  /** Open the claim gate. */
  resume(): void {
    this.paused = false;
    this.wakeSignal.wake();
  }

  /**
   * Stop claiming, wait up to `shutdown_timeout` ms for in-flight handlers and persist their outcomes;
   * hand back the ones still running (attempt `interrupted`, no retry consumed); then close.
   */
  async stop(): Promise<void> {
    if (this.lifecycle === 'stopped' || this.lifecycle === 'stopping') return;
    const wasRunning = this.lifecycle === 'running';
    this.lifecycle = 'stopping';
    this.wakeSignal.dispose();
    await this.loopPromise;
    const deadline = Date.now() + this.options.shutdown_timeout;
    while (this.inflight.size > 0 && Date.now() < deadline) await sleep(Math.min(10, deadline - Date.now()));
    await Promise.all(
      [...this.inflight.values()].map((f) =>
        this.finish(f, { kind: 'interrupted', reason: 'shutdown_timeout' }, new Error('TaskManager stopped before the handler finished')),
      ),
    );
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.all(this.ticks); // a heartbeat or sweep under way finishes before the store closes
    await this.unlisten?.().catch((error) => this.options.onError(error, 'unlisten'));
    if (wasRunning && this.store) {
      await this.store.markWorkerDead(this.options.worker_id, Date.now()).catch((error) => this.options.onError(error, 'markWorkerDead'));
    }
    this.lifecycle = 'stopped';
    if (this.ownsStore && this.store) await this.store.close();
  }

  private every(ms: number, fn: () => Promise<void>): void {
    let busy = false;
    const timer = setInterval(() => {
      // heartbeats go on while stop() waits for in-flight handlers, or peers would recover them
      if (busy || (this.lifecycle !== 'running' && this.lifecycle !== 'stopping')) return;
      busy = true;
      const tick: Promise<void> = fn()
        .catch((error) => this.options.onError(error, 'maintenance'))
        .finally(() => {
          busy = false;
          this.ticks.delete(tick);
        });
      this.ticks.add(tick);
    }, ms);
    timer.unref?.();
    this.timers.push(timer);
  }

  // ---------------------------------------------------------------- claim loop

  private async claimLoop(store: Store): Promise<void> {
    let failures = 0;
    while (this.lifecycle === 'running') {
      const free = this.options.max_concurrent_tasks - this.inflight.size;
      const { names, name_limits } = this.registry.claimable();
      if (this.paused || this.fenced || free <= 0 || names.length === 0) {
        await this.wakeSignal.wait(this.options.poll_interval);
        continue;
      }
      let claimed: Task[];
      try {
        claimed = await store.claimTasks({ worker_id: this.options.worker_id, now: Date.now(), limit: free, names, name_limits });
        failures = 0;
      } catch (error) {
        failures++;
        this.options.onError(error, 'claim');
        await this.wakeSignal.wait(Math.min(this.options.poll_interval * 2 ** Math.min(failures, 6), 30_000));
        continue;
      }
      for (const task of claimed) this.launch(store, task);
      if (claimed.length === 0) await this.wakeSignal.wait(this.options.poll_interval);
    }
  }

  private launch(store: Store, task: Task): void {
    const def = this.registry.get(task.name);
    const fence: Fence = { task_id: task.id, worker_id: this.options.worker_id, attempt: task.attempt };
    const state: AttemptState = { fence, startedAt: Date.now(), controller: new AbortController(), checkTimedOut: false, notes: new Set() };
    if (!def) {
      // unregistered between the claim and now: hand it back untouched
      void store.finishAttempt(fence, { kind: 'interrupted', reason: 'handler_unregistered' }, Date.now()).catch((e) => this.options.onError(e, 'finishAttempt'));
      return;
    }
    const flight: InFlight = { task, def, state, timer: undefined, finalized: false };
    this.inflight.set(task.id, flight);
    this.registry.track(task.name, 1);
    const deadline = Date.now() + task.timeout * 1000;
    const arm = () => {
      // setTimeout fires at once for delays above 2^31-1 ms (~24.8 days): re-arm in steps instead
      flight.timer = setTimeout(() => {
        if (Date.now() < deadline) return arm();
        const error = new TaskTimeoutError(SWEEP_ERRORS.total);
        void this.finish(flight, { kind: 'failed', status: 'timeout', error: SWEEP_ERRORS.total, timeout_type: 'total' }, error);
      }, Math.min(deadline - Date.now(), MAX_TIMER_MS));
    };
    arm();
    void this.execute(store, flight);
  }

  private async execute(store: Store, flight: InFlight): Promise<void> {
    const { task, def, state } = flight;
    const next: NextFn<UntypedTaskMap> = (children, context) => new SubTasks(children, context);
    let outcome: FinishOutcome;
    try {
      const ctx = buildTaskContext(task, state, store);
      const value = await def.handler(ctx as never, next as never);
      outcome = state.checkTimedOut
        ? failureOutcome(new TaskTimeoutError(), true)
        : outcomeOf(value, task, this.registry, Date.now());
    } catch (error) {
      outcome = failureOutcome(error, state.checkTimedOut);
    }
    if (flight.finalized) return; // timed out, paused, cancelled or interrupted meanwhile: result discarded
    await Promise.allSettled([...state.notes]);
    await this.finish(flight, outcome);
  }

  /**
   * Write an attempt's outcome once (the first of: handler result, local timeout, stop deadline),
   * retrying while the database is unreachable so a committed claim is never left dangling.
   */
  private async finish(flight: InFlight, outcome: FinishOutcome, abortReason?: unknown): Promise<void> {
    if (flight.finalized) return;
    flight.finalized = true;
    clearTimeout(flight.timer);
    if (abortReason !== undefined) flight.state.controller.abort(abortReason);
    const store = this.store!;
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const result = await store.finishAttempt(flight.state.fence, outcome, Date.now());
          if (!result.applied) {
            this.options.onError(
              new Error(`Discarded the outcome of task ${flight.task.id}: worker ${flight.state.fence.worker_id} no longer owns attempt ${flight.state.fence.attempt}`),
              'fenced write',
            );
          } else if (result.task && (result.task.status === 'failed' || result.task.status === 'timeout')) {
            this.wakeSignal.wakeAt(result.task.next_run_time);
          }
          break;
        } catch (error) {
          if (!(error instanceof StoreUnavailableError) || attempt >= 20) throw error;
          await sleep(Math.min(100 * 2 ** attempt, 2000));
        }
      }
    } catch (error) {
      this.options.onError(error, 'finishAttempt');
    } finally {
      this.release(flight);
    }
  }

  /** Forget an attempt that another party ended (paused, cancelled, timed out, recovered). */
  private abandon(taskId: TaskId, reason: unknown): void {
    const flight = this.inflight.get(taskId);
    if (!flight || flight.finalized) return;
    flight.finalized = true;
    clearTimeout(flight.timer);
    flight.state.controller.abort(reason);
    this.release(flight);
  }

  private release(flight: InFlight): void {
    if (this.inflight.get(flight.task.id) === flight) {
      this.inflight.delete(flight.task.id);
      this.registry.track(flight.task.name, -1);
    }
    this.wakeSignal.wake();
  }

  // ---------------------------------------------------------------- maintenance

  /** Task heartbeats, then the timeout sweep (SPEC B5.5, A6, A12). */
  private async maintenanceTick(store: Store): Promise<void> {
    const now = Date.now();
    const fences = [...this.inflight.values()].filter((f) => !f.finalized).map((f) => f.state.fence);
    if (fences.length > 0) {
      const lost = await store.heartbeatTasks(fences, now);
      for (const id of lost) this.abandon(id, new Error(`Task ${id} is no longer owned by this worker`));
    }
    const timedOut = await store.sweepTimedOutTasks({ now, heartbeat_timeout_ms: this.options.task_heartbeat_timeout, limit: SWEEP_BATCH });
    for (const t of timedOut) {
      const flight = this.inflight.get(t.task_id);
      if (flight && flight.state.fence.attempt === t.attempt && t.worker_id === this.options.worker_id) {
        this.abandon(t.task_id, new TaskTimeoutError(t.timeout_type === 'total' ? SWEEP_ERRORS.total : SWEEP_ERRORS.heartbeat));
      }
    }
    if (timedOut.length > 0) this.wakeSignal.wake();
  }

  /** Insert or replace this worker's registry row with a fresh lease. */
  private register(store: Store, now: number, meta: Record<string, unknown>) {
    return store.registerWorker({
      worker_id: this.options.worker_id,
      pod_id: this.options.pod_id,
      host: hostname(),
      pid: process.pid,
      meta: { pid: process.pid, ...meta },
      now,
      ttl_ms: this.options.worker_heartbeat_timeout,
    });
  }

  private async registerWorker(store: Store): Promise<void> {
    const now = Date.now();
    await this.register(store, now, { started_at: now });
    const superseded = this.options.pod_id ? await store.supersedeWorkers(this.options.pod_id, this.options.worker_id, now) : [];
    const reaped = await store.reapExpiredWorkers(now, SWEEP_BATCH);
    await this.recover(store, [...superseded, ...reaped], now);
  }

  /** Worker lease heartbeat, reaping of expired peers, recovery, supersede fencing (SPEC B7.3, A13). */
  private async workerTick(store: Store): Promise<void> {
    const now = Date.now();
    const me = await store.heartbeatWorker(this.options.worker_id, now, this.options.worker_heartbeat_timeout);
    const reaped = await store.reapExpiredWorkers(now, SWEEP_BATCH);
    await this.recover(store, reaped, now);
    if (me?.status === 'active' && !reaped.includes(this.options.worker_id)) {
      this.fenced = false;
      return;
    }
    const peers = this.options.pod_id ? await store.listWorkers({ pod_id: this.options.pod_id, status: 'active' }) : [];
    this.fenced = peers.some((w) => w.worker_id !== this.options.worker_id);
    if (!this.fenced) {
      await this.register(store, now, { recovered_at: now });
      this.wakeSignal.wake();
    }
  }

  private async recover(store: Store, workerIds: string[], now: number): Promise<void> {
    if (!this.options.recover_running_jobs || workerIds.length === 0) return;
    for (;;) {
      const recovered = await store.recoverWorkerTasks({
        worker_ids: workerIds,
        by_worker_id: this.options.worker_id,
        by_pod_id: this.options.pod_id,
        now,
        limit: SWEEP_BATCH,
      });
      for (const r of recovered) {
        if (r.worker_id === this.options.worker_id) this.abandon(r.task_id, new Error(`Task ${r.task_id} was recovered`));
      }
      if (recovered.length > 0) this.wakeSignal.wake();
      if (recovered.length < SWEEP_BATCH) return;
    }
  }

  // ---------------------------------------------------------------- per-task control

  private requireId(id: unknown): TaskId {
    const taskId = v.parseTaskId(id);
    if (taskId === null) throw new TaskNotFoundError(id);
    return taskId;
  }

  /** Pause a task (from running, pending, failed or timeout). A running handler's signal aborts. */
  async pauseTask(id: TaskId): Promise<void> {
    const taskId = this.requireId(id);
    const store = await this.ready();
    await store.pauseTask(taskId, Date.now());
    this.abandon(taskId, new Error(`Task ${taskId} was paused`));
  }

  /** Resume a paused, failed, timed-out or suspended task (suspended: stage + 1, `task_resumed`). */
  async resumeTask(id: TaskId, options?: { resume_reason?: string }): Promise<void> {
    const taskId = this.requireId(id);
    const opts = optionsObject(options, 'resumeTask options');
    v.knownKeys(opts, ['resume_reason'], 'resumeTask');
    const reason = opts.resume_reason === undefined ? undefined : v.nonEmptyString(opts.resume_reason, 'resume_reason').trim();
    const store = await this.ready();
    await store.resumeTask(taskId, { resume_reason: reason }, Date.now());
    this.abandon(taskId, new Error(`Task ${taskId} was resumed elsewhere`));
    this.wakeSignal.wake();
  }

  /** Cancel a task (any status but completed/permanently_failed) → `permanently_failed`. */
  async cancelTask(id: TaskId, options?: { reason?: string }): Promise<void> {
    const taskId = this.requireId(id);
    const opts = optionsObject(options, 'cancelTask options');
    v.knownKeys(opts, ['reason'], 'cancelTask');
    const reason = opts.reason === undefined ? undefined : v.nonEmptyString(opts.reason, 'reason').trim();
    const store = await this.ready();
    await store.cancelTask(taskId, { reason }, Date.now());
    this.abandon(taskId, new Error(`Task ${taskId} was cancelled`));
    this.wakeSignal.wake();
  }

  // ---------------------------------------------------------------- queries

  /** One task, or null (also for ids that cannot exist, such as `'1 OR 1=1'`). */
  async getTask(id: TaskId): Promise<Task | null> {
    const taskId = v.parseTaskId(id);
    const store = await this.ready();
    return taskId === null ? null : store.getTask(taskId);
  }

  /** Tasks matching every given filter, ordered by creation. Unknown status or type throws. */
  async getTasks(filters: Omit<TaskQuery, 'limit' | 'offset' | 'order'> = {}): Promise<Task[]> {
    const query = this.taskQuery(filters);
    const store = await this.ready();
    return query === null ? [] : (await store.queryTasks(query)).items;
  }

  private taskQuery(filters: unknown): TaskQuery | null {
    const f = optionsObject(filters, 'filters');
    v.knownKeys(f, TASK_FILTER_KEYS, 'task filter');
    const q: TaskQuery = {};
    if (f.status !== undefined) q.status = v.status(f.status);
    if (f.type !== undefined) {
      if (!isTaskType(f.type)) throw new ValidationError(`Invalid task type: ${v.describe(f.type)}`);
      q.type = f.type;
    }
    // odd tag/name/worker filters are ignored, as in the reference
    if (typeof f.tag === 'string' && f.tag !== '') q.tag = f.tag;
    if (typeof f.name === 'string' && f.name !== '') q.name = f.name;
    if (typeof f.worker_id === 'string' && f.worker_id !== '') q.worker_id = f.worker_id;
    if (typeof f.suspend_reason === 'string' && f.suspend_reason !== '') q.suspend_reason = f.suspend_reason;
    for (const key of ['parent_id', 'root_id', 'workflow_root_id'] as const) {
      if (f[key] === undefined) continue;
      const id = v.parseTaskId(f[key]);
      if (id === null) return null; // an id that cannot exist matches nothing
      q[key] = id;
    }
    return q;
  }

  /** Tasks with this name. */
  async getTasksByName(name: string): Promise<Task[]> {
    if (typeof name !== 'string' || name === '') throw new ValidationError('Task name is required');
    return this.getTasks({ name });
  }

  /** Tasks in this status; with `suspend_reason`, only suspended tasks waiting for that reason. */
  async getTasksByStatus(status: TaskStatus, options?: { suspend_reason?: string }): Promise<Task[]> {
    if (status === undefined || status === null || (status as string) === '') throw new ValidationError('Status is required');
    const opts = optionsObject(options, 'getTasksByStatus options');
    v.knownKeys(opts, ['suspend_reason'], 'getTasksByStatus');
    return this.getTasks({ status: v.status(status), ...(opts.suspend_reason !== undefined ? { suspend_reason: opts.suspend_reason as string } : {}) });
  }

  /** Tasks with this tag. */
  async getTasksByTag(tag: string): Promise<Task[]> {
    if (typeof tag !== 'string' || tag === '') throw new ValidationError('Tag is required');
    return this.getTasks({ tag });
  }

  /** Counts per tag, name and status. */
  async getTaskStatsByTag(tag?: string, status?: TaskStatus): Promise<TagStat[]> {
    const checkedStatus = status === undefined || status === null ? undefined : v.status(status);
    const store = await this.ready();
    return store.getTaskStatsByTag(typeof tag === 'string' && tag !== '' ? tag : undefined, checkedStatus);
  }

  /** Children of a task, in creation order. */
  async getChildTasks(parentId: TaskId): Promise<Task[]> {
    if (parentId === undefined || parentId === null || (parentId as unknown) === '' || parentId === 0) {
      throw new ValidationError('Parent task ID is required');
    }
    return this.getTasks({ parent_id: parentId });
  }

  /** Delete tasks matching every given filter (none: all) with their events and attempts. */
  async deleteTasks(filters: DeleteTasksFilter = {}): Promise<number> {
    const f = optionsObject(filters, 'filters');
    v.knownKeys(f, ['tag', 'status', 'name'], 'deleteTasks filter');
    const filter: DeleteTasksFilter = {};
    if (f.status !== undefined) filter.status = v.status(f.status);
    if (typeof f.tag === 'string' && f.tag !== '') filter.tag = f.tag;
    if (typeof f.name === 'string' && f.name !== '') filter.name = f.name;
    const store = await this.ready();
    return store.deleteTasks(filter);
  }

  /** Every audit event of a task, oldest first. */
  async getTaskEvents(id: TaskId): Promise<TaskEvent[]> {
    const taskId = v.parseTaskId(id);
    if (taskId === null) return [];
    const store = await this.ready();
    return (await store.queryTaskEvents(taskId, {})).items;
  }

  /** Every attempt of a task, by attempt number. */
  async getTaskAttempts(id: TaskId): Promise<TaskAttempt[]> {
    const taskId = v.parseTaskId(id);
    if (taskId === null) return [];
    const store = await this.ready();
    return (await store.queryTaskAttempts(taskId, {})).items;
  }

  /** Registered workers, ordered by registration. */
  async listWorkers(filter: { pod_id?: string; status?: WorkerStatus } = {}): Promise<WorkerRecord[]> {
    const f = optionsObject(filter, 'listWorkers filter');
    v.knownKeys(f, ['pod_id', 'status'], 'listWorkers');
    const store = await this.ready();
    return store.listWorkers(f as { pod_id?: string; status?: WorkerStatus });
  }

  /** One worker's registry row, or null. */
  async getWorker(workerId: string): Promise<WorkerRecord | null> {
    if (typeof workerId !== 'string' || workerId === '') throw new ValidationError('Worker ID is required');
    const store = await this.ready();
    return store.getWorker(workerId);
  }

  /** The `Suspension` class, also exported from the package root. */
  static readonly Suspension = Suspension;
}


function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
