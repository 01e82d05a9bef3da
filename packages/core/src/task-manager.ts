import { LifecycleError, isPlainObject, parseTaskId, scheduleOf, sessionLimitsForLease, type SignalSent } from '@taskmill/contracts';
import type { Schedule, ScheduleQuery, ScheduleUpsert } from '@taskmill/contracts';
import type { AttemptQuery, BulkAction, FlowResult, BulkFilter, DeleteTasksFilter, EventQuery, NamePause, Page, TagStat, Task, TaskAction, TaskAttempt, TaskEvent } from '@taskmill/contracts';
import type { TaskId, TaskQuery, TaskStatus, WorkerRecord, WorkerStatus } from '@taskmill/contracts';
import * as audit from '@taskmill/audit';
import type { TaskAudit, WorkflowAudit, WorkflowAuditSummary } from '@taskmill/audit';
import { mergeRetentionPolicy, runRetention, type RetentionPolicy, type RetentionResult } from '@taskmill/retention';
import { DbClock } from './db-clock.js';
import { Engine } from './engine.js';
import { HandlerRegistry } from './handler-registry.js';
import { resolveOptions, type ResolvedOptions, type TaskManagerOptions } from './manager-options.js';
import * as filters from './query-filters.js';
import { StoreHandle } from './store-handle.js';
import { Submission } from './submission.js';
import { checkSignal, sendTaskSignal } from './signals.js';
import { Suspension } from './suspension.js';
import { Telemetry } from './telemetry.js';
import type { AsyncBatchItem, AsyncOptions, CronOptions, FlowDefinition, HandlerConfig, PayloadOf, ScheduleSpec, TaskHandler } from './types.js';
import type { TaskMap, TransactionalEnqueue, UntypedTaskMap } from './types.js';
import { AFTER_TASK_ACTION, runCascadeCancel, runTaskAction, taskActionOptions } from './task-actions.js';
import { bulkAction, bulkOptions, runBulkAction, type BulkOptions, type BulkResult } from './bulk-actions.js';
import { requireId, scheduleKey, taskName } from './validate.js';
import { WakeSignal } from './wake-signal.js';
import { EventWatch } from './event-watch.js';
import { Subscription, subscribeInput, type EventHandler, type EventSubscription, type SubscribeOptions } from './event-subscription.js';
import { resultInput } from './result-options.js';

/** Lifecycle states of a manager. */
export type ManagerState = 'init' | 'running' | 'stopping' | 'stopped';

/**
 * The taskmill task manager: registers handlers, enqueues one-off and cron tasks, claims and runs
 * them, and answers queries. Parameterise it with a {@link TaskMap} to type-check payloads.
 *
 * Constructing never connects; the schema is created by `setup()` or on first use (never with
 * `migrate: false`, reader mode).
 */
export class TaskManager<M extends TaskMap = UntypedTaskMap> {
  /** Resolved options. */
  readonly options: ResolvedOptions;
  private readonly db: StoreHandle;
  private readonly registry: HandlerRegistry;
  /** The database's clock as this process knows it: every time written to the store comes from it. */
  private readonly clock: DbClock;
  private readonly wake: WakeSignal;
  private readonly telemetry: Telemetry;
  private readonly submission: Submission<M>;
  /** Result waiters' and subscriptions' probe (docs/behaviour.md#results). */
  private events: EventWatch;
  private readonly subscriptions = new Set<Subscription>();
  private lifecycle: ManagerState = 'init';
  private paused = false;
  private engine: Engine | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: TaskManagerOptions) {
    this.options = resolveOptions(options);
    this.clock = new DbClock(this.options.onError);
    this.wake = new WakeSignal(this.clock);
    this.db = new StoreHandle(options.dbConnection, options.dbType, {
      clock: this.clock,
      sessionLimits: sessionLimitsForLease(this.options.worker_heartbeat_timeout),
      migrate: this.options.migrate,
    });
    this.registry = new HandlerRegistry(this.options);
    this.telemetry = new Telemetry(this.options.telemetry, this.options.worker_id, this.options.onError);
    this.submission = new Submission(this.registry, this.db, this.clock, this.telemetry, this.wake);
    this.events = this.newEventWatch();
  }

  private newEventWatch(): EventWatch {
    return new EventWatch({
      store: () => this.db.ready(),
      interval: this.options.event_poll_interval,
      fallback: this.options.poll_interval,
      onError: this.options.onError,
    });
  }

  /** `'init' | 'running' | 'stopping' | 'stopped'`. */
  get state(): ManagerState {
    return this.lifecycle;
  }

  /** True while `pause()` holds the claim gate closed. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** When the next automatic retention sweep is due (ms since the epoch); null when not running or retention is off. */
  get nextRetentionSweepAt(): number | null {
    return this.engine?.lease.nextRetentionSweepAt ?? null;
  }

  /**
   * Create or migrate the schema (also done by `start()` and on first use). With `migrate: false`
   * only check it: a SchemaNotReadyError when it is missing or behind.
   */
  async setup(): Promise<void> {
    await this.db.ready();
  }

  // ---------------------------------------------------------------- handlers

  /**
   * Register handlers: `use(name, fn)`, `use(name, {handler, ...defaults})`,
   * `use(name, {module, isolate: 'thread', ...defaults})` (run in a worker thread,
   * docs/behaviour.md#isolated-handlers) or `use({name: handler})`.
   * Re-registering replaces the handler for future claims (hot reload). Never changes pause state.
   */
  use<K extends keyof M & string>(name: K, handler: TaskHandler<M, K> | HandlerConfig<M, K>): void;
  use(handlers: { [K in keyof M & string]?: TaskHandler<M, K> | HandlerConfig<M, K> }): void;
  use(nameOrMap: unknown, handler?: unknown): void {
    if (arguments.length === 1 && isPlainObject(nameOrMap)) this.registry.setAll(nameOrMap);
    else this.registry.set(nameOrMap, handler);
    this.wake.wake();
  }

  /** Unregister handlers; returns how many were removed. Running attempts keep their handler. */
  unuse(names: (keyof M & string) | (keyof M & string)[]): number {
    const list = Array.isArray(names) ? names : [names];
    return list.filter((name) => typeof name === 'string' && this.registry.delete(name)).length;
  }

  /** `{name, description}` of a registered handler. */
  getTaskInfo(name: keyof M & string): { name: string; description: string } {
    const def = this.registry.require(name, (n) => `No task registered with name: ${n}`);
    return { name: def.name, description: def.description };
  }

  // ---------------------------------------------------------------- submission

  /** Enqueue a one-off task (payload `{}` when none is given); resolves to its id. Bounds: `LIMITS`. */
  async<K extends keyof M & string>(name: K, payload?: PayloadOf<M, K>, options?: AsyncOptions): Promise<TaskId> {
    return this.submission.async(name, payload, options);
  }

  /**
   * Enqueue many one-off tasks in one transaction (all or nothing); resolves to their ids in order.
   * At most `LIMITS.max_batch_size` (100,000) tasks: a larger batch throws a `ValidationError` and
   * writes nothing. An empty array resolves to `[]` without touching the store.
   */
  asyncMany(items: AsyncBatchItem<M>[]): Promise<TaskId[]> {
    return this.submission.asyncMany(items);
  }

  /** Register a cron task (UTC unless `tz` is given; payload `{}` when none is given); resolves to its id. */
  cron<K extends keyof M & string>(name: K, cronExpr: string, payload?: PayloadOf<M, K>, options?: CronOptions): Promise<TaskId> {
    return this.submission.cron(name, cronExpr, payload, options);
  }

  /**
   * Create or update in place the managed schedule `(name, key)` (docs/behaviour.md#schedules):
   * `{cron: expr, tz?}` or `{every: seconds}`, with `payload` and the task options of `cron()`. One
   * row per `(name, key)` whatever number of processes call it at once; the call sets the whole
   * definition. A changed expression moves the next run (computed now, on the database's clock);
   * a changed payload or option alone keeps it; a running attempt finishes undisturbed and the new
   * definition applies from the next run. The handler need not be registered in this manager.
   * Resolves to the schedule as it now stands, with `created`.
   */
  schedule<K extends keyof M & string>(name: K, key: string, spec: ScheduleSpec<PayloadOf<M, K>>): Promise<ScheduleUpsert> {
    return this.submission.schedule(name, key, spec);
  }

  /**
   * Remove the schedule `(name, key)`: no further runs. A running attempt finishes (as a one-off
   * task: it is not rescheduled); any other state is cancelled (`Schedule removed`). Resolves to
   * whether such a schedule existed.
   */
  async unschedule(name: keyof M & string, key: string): Promise<boolean> {
    const checkedName = taskName(name);
    const checkedKey = scheduleKey(key);
    const store = await this.db.ready();
    return store.removeSchedule(checkedName, checkedKey, this.clock.now());
  }

  /** The managed schedules, in creation order, paged like the task queries (`{name?, limit?, cursor?…}`). */
  async getSchedules(query: ScheduleQuery = {}): Promise<Page<Schedule>> {
    const page = await (await this.db.ready()).listSchedules(query);
    return { ...page, items: page.items.map(scheduleOf) };
  }

  /**
   * Enqueue inside the application's own transaction: the tasks commit or roll back with it and
   * no worker sees them before its commit. `handle` is that transaction as its driver knows it —
   * a postgres-js `tx` (of `sql.begin`), a mysql2 promise connection after `BEGIN`, a
   * better-sqlite3 `Database` inside `db.transaction(fn)`, or a drizzle transaction of any of
   * them (see `Store.createTasksWithin`). Options are validated exactly as by `async`,
   * `asyncMany` and `cron`. The manager must be set up first (`await tm.setup()`): nothing is
   * opened or migrated inside the application's transaction.
   *
   * Invalid arguments, a manager not set up and (on SQLite, whose transactions are synchronous)
   * every failure are thrown at once, so that a synchronous transaction function rolls back;
   * other store failures reject the returned promise.
   *
   * @example
   * await sql.begin(async (tx) => {
   *   await tx`INSERT INTO orders ${tx(order)}`;
   *   await tm.within(tx).async('send-receipt', { orderId: order.id });
   * });
   */
  within(handle: unknown): TransactionalEnqueue<M> {
    return this.submission.within(handle);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Set up the schema, register this worker and start claiming. Throws after `stop()`. */
  async start(): Promise<void> {
    if (this.lifecycle === 'running') return;
    if (this.lifecycle !== 'init') throw new LifecycleError('Cannot restart a stopped TaskManager');
    this.starting ??= this.launch().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async launch(): Promise<void> {
    const store = await this.db.ready();
    const { registry, options, wake, telemetry, clock } = this;
    this.engine = await Engine.prepare(store, { registry, options, wake, telemetry, clock });
    this.lifecycle = 'running';
    this.engine.run(() => !this.paused);
  }

  /** Close the claim gate; in-flight handlers carry on. */
  pause(): void {
    this.paused = true;
  }

  /** Open the claim gate. */
  resume(): void {
    this.paused = false;
    this.wake.wake();
  }

  /**
   * Stop claiming, wait up to `shutdown_timeout` ms for in-flight handlers and persist their outcomes;
   * hand back the ones still running (attempt `interrupted`, no retry consumed); then close. Every
   * call resolves once the manager has stopped. Before `start()` it changes nothing (docs/behaviour.md#graceful-stop) but
   * releases connections opened for enqueues and queries (they reopen on next use).
   */
  async stop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    await this.endWaits();
    if (this.lifecycle === 'init') {
      // before start() the manager stays usable: later waits get a fresh probe
      this.events = this.newEventWatch();
      return this.db.release();
    }
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.lifecycle = 'stopping';
    try {
      await this.engine!.stop();
    } finally {
      this.lifecycle = 'stopped';
      await this.db.close();
    }
  }

  /** End every subscription and reject every result waiter of this manager (LifecycleError). */
  private async endWaits(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    await this.events.close();
  }

  // ---------------------------------------------------------------- results and events

  /**
   * Wait for a task to finish, from any process (docs/behaviour.md#results): resolves with the
   * result of a `completed` task; rejects with `TaskFailedError` (permanently failed: its error
   * text), `TaskCancelledError`, `ResultTimeoutError` (`timeout` seconds passed; the task is
   * untouched), `TaskNotFoundError` (no such task, or deleted while waited for) or
   * `TaskNotAwaitableError` (a cron task, which never finishes). A paused or suspended task is
   * waited for until it finishes. An argument that is not a task id, or a bad timeout, is a
   * `ValidationError`.
   */
  async result<T = unknown>(id: TaskId, options?: { timeout?: number | null }): Promise<T> {
    const input = resultInput(id, options);
    if (this.lifecycle === 'stopping' || this.lifecycle === 'stopped') throw new LifecycleError('TaskManager is stopped');
    return (await this.events.wait(input.id, input.timeout)) as T;
  }

  /**
   * Subscribe to task events (docs/behaviour.md#event-subscriptions): by type, task name, tag and
   * workflow root, from this process or any other, delivered at least once in commit order, in
   * batches, each with the cursor after it. Resume after a restart with `{after: savedCursor}`.
   * Resolves once the starting position is known. Bad options, a bad cursor or an unknown event
   * type are a `ValidationError`.
   */
  async subscribe(options: SubscribeOptions, handler: EventHandler): Promise<EventSubscription> {
    const input = subscribeInput(options, handler);
    if (this.lifecycle === 'stopping' || this.lifecycle === 'stopped') throw new LifecycleError('TaskManager is stopped');
    const store = await this.db.ready();
    const cursor = input.after ?? (input.from === 'beginning' ? 'tm1.0' : `tm1.${await store.latestEventId()}`);
    const subscription = new Subscription(
      store,
      input.filter,
      cursor,
      handler,
      this.clock,
      this.events,
      this.options.poll_interval,
      this.options.onError,
      (s) => this.subscriptions.delete(s),
    );
    this.subscriptions.add(subscription);
    subscription.start();
    return subscription;
  }

  // ---------------------------------------------------------------- per-task control

  /** Pause a task (from running, pending, failed or timeout). A running handler's signal aborts. */
  async pauseTask(id: TaskId): Promise<void> {
    return this.act('pause', id);
  }

  /**
   * Resume a paused, failed, timed-out, running or suspended task: due now, retries reset
   * (suspended: stage + 1, `task_resumed`). A running handler's signal aborts.
   */
  async resumeTask(id: TaskId, options?: { resume_reason?: string }): Promise<void> {
    return this.act('resume', id, options);
  }

  /**
   * Cancel a task (any status but completed/permanently_failed) → `permanently_failed`. A running
   * handler's signal aborts. With `cascade: true` every unfinished descendant of the task is
   * cancelled too, in the same transaction (docs/behaviour.md#cascade-cancel); a task itself
   * finished whose descendants are not is accepted then.
   */
  async cancelTask(id: TaskId, options?: { reason?: string; cascade?: boolean }): Promise<void> {
    const checked = taskActionOptions('cancel', options);
    if (!checked.cascade) return this.act('cancel', id, options);
    const taskId = requireId(id);
    const { cancelled } = await runCascadeCancel(await this.db.ready(), taskId, checked, this.clock.now());
    for (const cancelledId of cancelled) this.engine?.loop.abandon(cancelledId, new Error(`Task ${cancelledId} was cancelled`));
    this.wake.wake();
  }

  /**
   * Create a flow up front (docs/behaviour.md#flows): a task and its children, nested, in one
   * transaction. Every task with children waits `suspended` (`awaiting_subtasks`) and runs, at
   * stage 1 with `task.result` = their outcomes, once they have all finished; the tasks without
   * children run first. Each child's `on_failure` says what its failure for good does to its
   * parent: `fail`, `ignore` or `continue` (default). Resolves to the ids shaped as the flow
   * (`{id, created, children: [{id, children}…]}`); a root whose unique key is held writes nothing
   * and resolves to the holder's id with `created: false`. Every task is validated first
   * (`ValidationError`, `LimitExceededError`, `HandlerNotFoundError`) and nothing is written then.
   */
  flow(def: FlowDefinition<M>): Promise<FlowResult> {
    return this.submission.flow(def);
  }

  /**
   * Run a failed, timed-out or permanently failed task again now: a failed/timed-out task's pending
   * retry is brought forward; a permanently failed one starts over with its retry count reset
   * (event `task_retry_scheduled`, `manual: true`). A permanently failed workflow child is refused
   * (its parent already counted it).
   */
  async retryTask(id: TaskId): Promise<void> {
    return this.act('retry', id);
  }

  /**
   * Send a signal to a task (docs/behaviour.md#signals): kept until a `task.waitForSignal(name)` of
   * the task takes it (oldest first), or, when the task waits for this name now, it resumes at once
   * at `stage + 1` with `task.received_signal` = `{name, data, …}`. `data` must be JSON-serialisable
   * (at most `LIMITS.max_payload_bytes`); none stores null. Resolves to `{signal_id, resumed}`.
   * Throws `ValidationError` (bad id or name), `SerializationError`/`LimitExceededError` (bad
   * data), `TaskNotFoundError` (no such task) or `TaskFinishedError` (completed or permanently
   * failed): then nothing is written.
   */
  async signal(id: TaskId, name: string, data?: unknown): Promise<SignalSent> {
    const checked = checkSignal(id, name, data);
    const sent = await sendTaskSignal(await this.db.ready(), checked, this.clock.now());
    if (sent.resumed) this.wake.wake();
    return sent;
  }

  /** One action through the dispatcher the CLI and the dashboard share, then its local effects here. */
  private async act(action: TaskAction, id: TaskId, options?: unknown): Promise<void> {
    const taskId = requireId(id);
    const checked = taskActionOptions(action, options);
    await runTaskAction(await this.db.ready(), action, taskId, checked, this.clock.now());
    const { abandon, wake } = AFTER_TASK_ACTION[action];
    if (abandon) this.engine?.loop.abandon(taskId, new Error(`Task ${taskId} ${abandon}`));
    if (wake) this.wake.wake();
  }

  /**
   * Retry, cancel, pause, resume or delete every task a filter selects (docs/behaviour.md#bulk-actions):
   * in batches of `batch_size` tasks, each its own transaction, each task changed by exactly the
   * rule and with the events of its per-task action (`bulk: true` in their metadata); a task whose
   * status no longer allows it, or whose unique key another task holds, is skipped and counted. A
   * filter without criteria needs `all: true`. A bad action, filter or option is a ValidationError
   * and nothing is written. `dry_run` only counts. Handlers this process runs for changed tasks
   * have their signal aborted, as for the per-task actions.
   */
  async bulk(action: BulkAction, filter: BulkFilter, options?: BulkOptions): Promise<BulkResult> {
    const checkedAction = bulkAction(action);
    const checked = bulkOptions(checkedAction, options);
    const store = await this.db.ready();
    const after = checkedAction === 'delete' ? { wake: false } : AFTER_TASK_ACTION[checkedAction];
    return runBulkAction(store, checkedAction, filter, checked, () => this.clock.now(), (changed) => {
      if ('abandon' in after && after.abandon) {
        for (const id of changed) this.engine?.loop.abandon(id, new Error(`Task ${id} ${after.abandon}`));
      }
      if (after.wake) this.wake.wake();
    });
  }

  // ---------------------------------------------------------------- names, cluster-wide

  /**
   * Pause a task name for the whole cluster (docs/behaviour.md#flow-control): no worker claims tasks of
   * the name until {@link resumeName}; its pending tasks stay pending, running ones finish. Persisted
   * with a `name_paused` event; pausing a paused name changes nothing. Returns the pause in force.
   */
  async pauseName(name: keyof M & string, options?: { reason?: string; by?: string }): Promise<NamePause> {
    const store = await this.db.ready();
    return (await store.pauseName(name, options ?? {}, this.clock.now())).pause;
  }

  /** Lift a name's pause (event `name_resumed`) and wake the workers; false when it was not paused. */
  async resumeName(name: keyof M & string, options?: { by?: string }): Promise<boolean> {
    const store = await this.db.ready();
    const resumed = await store.resumeName(name, options ?? {}, this.clock.now());
    if (resumed) this.wake.wake();
    return resumed;
  }

  /** The names paused now, by name. */
  async pausedNames(): Promise<NamePause[]> {
    return (await this.db.ready()).listPausedNames();
  }

  /** Pause and resume events of task names, oldest first (`metadata.name` names the task name). */
  async queryNameEvents(query: EventQuery = {}): Promise<Page<TaskEvent>> {
    return (await this.db.ready()).queryNameEvents(query);
  }

  // ---------------------------------------------------------------- queries

  /** One task, or null (also for ids that cannot exist, such as `'1 OR 1=1'`). */
  async getTask(id: TaskId): Promise<Task | null> {
    const taskId = parseTaskId(id);
    const store = await this.db.ready();
    return taskId === null ? null : store.getTask(taskId);
  }

  /** Tasks matching every given filter (docs/behaviour.md#queries), ordered by creation. Unknown status or type throws. */
  async getTasks(taskFilters: TaskQuery = {}): Promise<Task[]> {
    return (await this.queryTasks(taskFilters)).items;
  }

  /** Tasks with this name. */
  async getTasksByName(name: string): Promise<Task[]> {
    return this.getTasks({ name: filters.required(name, 'Task name is required') });
  }

  /** Tasks in this status; with `suspend_reason`, only suspended tasks waiting for that reason. */
  async getTasksByStatus(status: TaskStatus, options?: { suspend_reason?: string }): Promise<Task[]> {
    return this.getTasks(filters.statusFilters(status, options));
  }

  /** Tasks with this tag. */
  async getTasksByTag(tag: string): Promise<Task[]> {
    return this.getTasks({ tag: filters.required(tag, 'Tag is required') });
  }

  /** Counts per tag, name and status. */
  async getTaskStatsByTag(tag?: string, status?: TaskStatus): Promise<TagStat[]> {
    return (await this.db.ready()).getTaskStatsByTag(...filters.statsArgs(tag, status));
  }

  /** Children of a task, in creation order. */
  async getChildTasks(parentId: TaskId): Promise<Task[]> {
    return this.getTasks(filters.childFilters(parentId));
  }

  /** Delete tasks matching every given filter (none: all) with their events and attempts. */
  async deleteTasks(deleteFilters: DeleteTasksFilter = {}): Promise<number> {
    const filter = filters.deleteFilter(deleteFilters);
    return (await this.db.ready()).deleteTasks(filter);
  }

  // ---------------------------------------------------------------- retention (delegated to @taskmill/retention)

  /**
   * Delete expired tasks with their events and attempts now, batch after batch until none is left
   * (docs/behaviour.md#retention), and push the next automatic sweep a full `retention_interval` away. No policy: the
   * configured one; a number: that expire_time with the default statuses; an array: those rules; an
   * object: merged over each configured rule (e.g. `{ now }`). A policy that deletes nothing
   * returns zeros. An invalid policy throws a ValidationError and deletes nothing.
   */
  async runRetention(policy?: RetentionPolicy): Promise<RetentionResult> {
    const rules = mergeRetentionPolicy(this.options.retention, policy);
    const store = await this.db.ready();
    // after ready(): the clock has been set against the store, on which tasks' times were written
    const result = await runRetention(store, rules, { now: () => this.clock.now() });
    this.engine?.lease.retentionRan();
    return result;
  }

  // ---------------------------------------------------------------- audit (delegated to @taskmill/audit)

  /** A page of tasks matching every filter, ordered by `created_at, id` (docs/behaviour.md#queries). */
  async queryTasks(query: TaskQuery = {}): Promise<Page<Task>> {
    return audit.queryTasks(await this.db.ready(), query);
  }

  /** A page of a task's events, ordered by `event_time, id`; `cursor` walks a long log page by page. */
  async queryTaskEvents(id: TaskId, query: EventQuery = {}): Promise<Page<TaskEvent>> {
    return audit.queryTaskEvents(await this.db.ready(), id, query);
  }

  /** A page of a workflow's events (the root's and every descendant's). */
  async queryWorkflowEvents(rootId: TaskId, query: EventQuery = {}): Promise<Page<TaskEvent>> {
    return audit.queryWorkflowEvents(await this.db.ready(), rootId, query);
  }

  /** A page of a task's attempts, ordered by `attempt, id`. */
  async queryTaskAttempts(id: TaskId, query: AttemptQuery = {}): Promise<Page<TaskAttempt>> {
    return audit.queryTaskAttempts(await this.db.ready(), id, query);
  }

  /** A page of the attempts of a workflow's tasks. */
  async queryWorkflowAttempts(rootId: TaskId, query: AttemptQuery = {}): Promise<Page<TaskAttempt>> {
    return audit.queryWorkflowAttempts(await this.db.ready(), rootId, query);
  }

  /** A task's audit events matching the filters, oldest first (the items of {@link queryTaskEvents}). */
  async getTaskEvents(id: TaskId, eventFilters: EventQuery = {}): Promise<TaskEvent[]> {
    return (await this.queryTaskEvents(id, eventFilters)).items;
  }

  /** A workflow's audit events matching the filters, oldest first. */
  async getWorkflowEvents(rootId: TaskId, eventFilters: EventQuery = {}): Promise<TaskEvent[]> {
    return (await this.queryWorkflowEvents(rootId, eventFilters)).items;
  }

  /** Every attempt of a task, by attempt number. */
  async getTaskAttempts(id: TaskId, attemptFilters: AttemptQuery = {}): Promise<TaskAttempt[]> {
    return (await this.queryTaskAttempts(id, attemptFilters)).items;
  }

  /** `{task, events, attempts}` of one task, each page with its own filters. */
  async getTaskAudit(id: TaskId, query?: { events?: EventQuery; attempts?: AttemptQuery }): Promise<TaskAudit> {
    return audit.getTaskAudit(await this.db.ready(), id, query);
  }

  /** `{root_task, tasks, events}` of a workflow. */
  async getWorkflowAudit(rootId: TaskId, query?: { tasks?: TaskQuery; events?: EventQuery }): Promise<WorkflowAudit> {
    return audit.getWorkflowAudit(await this.db.ready(), rootId, query);
  }

  /** Totals, statuses, timings, critical path and slowest attempts of a workflow (docs/behaviour.md#audit-summary). */
  async getWorkflowAuditSummary(rootId: TaskId): Promise<WorkflowAuditSummary> {
    return audit.getWorkflowAuditSummary(await this.db.ready(), rootId);
  }

  // ---------------------------------------------------------------- workers

  /** Registered workers, ordered by registration. */
  async listWorkers(filter: { pod_id?: string; status?: WorkerStatus } = {}): Promise<WorkerRecord[]> {
    const f = filters.workerFilter(filter);
    return (await this.db.ready()).listWorkers(f);
  }

  /** One worker's registry row, or null. */
  async getWorker(workerId: string): Promise<WorkerRecord | null> {
    const id = filters.required(workerId, 'Worker ID is required');
    return (await this.db.ready()).getWorker(id);
  }

  /** The `Suspension` class, also exported from the package root. */
  static readonly Suspension = Suspension;
}
