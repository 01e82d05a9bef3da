import { LIMITS, ValidationError, knownKeysObject, scheduleOf, unknownOption, type FlowResult, type NewFlow, type NewTask, type ScheduleUpsert, type TaskId } from '@taskmill/contracts';
import type { DbClock } from './db-clock.js';
import type { HandlerRegistry } from './handler-registry.js';
import type { StoreHandle } from './store-handle.js';
import { asyncTask, cronTask, flowTask, scheduleTask } from './task-options.js';
import type { Telemetry } from './telemetry.js';
import type { AsyncBatchItem, AsyncOptions, CronOptions, FlowDefinition, PayloadOf, ScheduleSpec, TaskMap, TransactionalEnqueue } from './types.js';
import type { WakeSignal } from './wake-signal.js';

/** Items of an `asyncMany` validated between two turns of the event loop. */
const VALIDATE_CHUNK = 1000;

/** An `asyncMany` argument is an array of at most `LIMITS.max_batch_size` items; else nothing is written. */
function checkBatch(items: unknown): void {
  if (!Array.isArray(items)) throw new ValidationError('asyncMany expects an array of {name, payload, options}');
  if (items.length > LIMITS.max_batch_size) {
    throw new ValidationError(`asyncMany accepts at most ${LIMITS.max_batch_size} tasks per call, got ${items.length}: split the batch into several calls`);
  }
}

/** When the tasks of a flow that run first (those without children) become due, each time once. */
function dueTimes(flow: NewFlow): Set<number> {
  const times = new Set<number>();
  if (flow.children.length === 0) times.add(flow.task.next_run_time);
  const walk = (children: NewFlow['children']) => {
    for (const child of children) {
      if (child.children.length === 0) times.add(child.next_run_time);
      else walk(child.children);
    }
  };
  walk(flow.children);
  return times;
}

/**
 * The enqueue side of a TaskManager: `async`, `asyncMany`, `cron` and `within(tx)`. Every task is
 * validated before anything connects or is written, stamped with the database's time, and written
 * through telemetry's enqueue span; a task due now wakes this process's claim loop.
 */
export class Submission<M extends TaskMap> {
  constructor(
    private readonly registry: HandlerRegistry,
    private readonly db: StoreHandle,
    private readonly clock: DbClock,
    private readonly telemetry: Telemetry,
    private readonly wake: WakeSignal,
  ) {}

  /** Enqueue a one-off task (payload `{}` when none is given); resolves to its id. Bounds: `LIMITS`. */
  async async<K extends keyof M & string>(name: K, payload?: PayloadOf<M, K>, options?: AsyncOptions): Promise<TaskId> {
    const [id] = await this.insert((now) => [asyncTask(this.registry, name, payload, options, now)]);
    return id;
  }

  /** Many one-off tasks in one transaction, at most `LIMITS.max_batch_size` (see `TaskManager.asyncMany`). */
  async asyncMany(items: AsyncBatchItem<M>[]): Promise<TaskId[]> {
    return this.insert((now) => this.batchInTurns(items, now));
  }

  /** Register a cron task (UTC unless `tz` is given; payload `{}` when none is given); resolves to its id. */
  async cron<K extends keyof M & string>(name: K, cronExpr: string, payload?: PayloadOf<M, K>, options?: CronOptions): Promise<TaskId> {
    const [id] = await this.insert((now) => [cronTask(this.registry, name, cronExpr, payload, options, now)]);
    return id;
  }

  /** Create or update the schedule `(name, key)` in place (see `TaskManager.schedule`). */
  async schedule<K extends keyof M & string>(name: K, key: string, spec: ScheduleSpec<PayloadOf<M, K>>): Promise<ScheduleUpsert> {
    const build = (now: number) => scheduleTask((n) => this.registry.defaultsFor(n), name, key, spec, now);
    let task = build(this.clock.now());
    if (!this.clock.synced) {
      await this.db.ready();
      task = build(this.clock.now());
    }
    const store = await this.db.ready();
    const { task: row, created } = await store.upsertSchedule(task, this.clock.now());
    this.wake.wakeAt(row.next_run_time);
    return { ...scheduleOf(row), created };
  }

  /**
   * Create a flow (docs/behaviour.md#flows): validated whole before anything connects, written in
   * one transaction on the database's clock; its due tasks wake this process's claim loop.
   */
  async flow(def: FlowDefinition<M>): Promise<FlowResult> {
    let flow = flowTask(this.registry, def, this.clock.now());
    if (!this.clock.synced) {
      await this.db.ready();
      flow = flowTask(this.registry, def, this.clock.now());
    }
    const store = await this.db.ready();
    const result = await store.createFlow(flow, this.clock.now());
    if (result.created) for (const time of dueTimes(flow)) this.wake.wakeAt(time);
    return result;
  }

  /** Enqueue inside the application's transaction `handle` (see `TaskManager.within`). */
  within(handle: unknown): TransactionalEnqueue<M> {
    if (handle === null || (typeof handle !== 'object' && typeof handle !== 'function')) {
      throw new ValidationError(`within() needs the application's transaction handle, got ${handle === null ? 'null' : typeof handle}`);
    }
    return {
      async: (name, payload, options) => this.insertWithin(handle, [asyncTask(this.registry, name, payload, options, this.clock.now())]).then(([id]) => id),
      asyncMany: (items) => this.insertWithin(handle, this.batch(items, this.clock.now())),
      cron: (name, cronExpr, payload, options) =>
        this.insertWithin(handle, [cronTask(this.registry, name, cronExpr, payload, options, this.clock.now())]).then(([id]) => id),
      flow: (def) => this.flowWithin(handle, flowTask(this.registry, def, this.clock.now())),
    };
  }

  /** A flow in the application's transaction: as {@link insertWithin}, no await before the store call. */
  private flowWithin(handle: unknown, flow: NewFlow): Promise<FlowResult> {
    const store = this.db.readyNow('within()');
    const createWithin = store.createFlowWithin?.bind(store);
    if (!createWithin) throw new ValidationError(`The ${store.dialect} store cannot create flows inside an application transaction`);
    return createWithin(handle, flow, this.clock.now()).then((result) => {
      if (result.created) for (const time of dueTimes(flow)) this.wake.wakeAt(time);
      return result;
    });
  }

  /** Validated tasks of an `asyncMany` batch, all in one stretch (`within()`: a synchronous transaction cannot wait for a turn). */
  private batch(items: AsyncBatchItem<M>[], now: number): NewTask[] {
    checkBatch(items);
    return items.map((item, i) => this.batchItem(item, i, now));
  }

  /**
   * {@link batch} with a turn of the event loop every VALIDATE_CHUNK items: validating 100,000
   * items takes a few hundred ms, and a worker's heartbeats must not wait for it. Every item is
   * still validated before anything is written.
   */
  private async batchInTurns(items: AsyncBatchItem<M>[], now: number): Promise<NewTask[]> {
    checkBatch(items);
    const tasks: NewTask[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      if (i > 0 && i % VALIDATE_CHUNK === 0) await new Promise((resolve) => setImmediate(resolve));
      tasks[i] = this.batchItem(items[i], i, now);
    }
    return tasks;
  }

  private batchItem(item: AsyncBatchItem<M>, i: number, now: number): NewTask {
    const messages = { notObject: `asyncMany item ${i} must be an object`, unknownKey: unknownOption('asyncMany item') };
    knownKeysObject(item, ['name', 'payload', 'options'], messages, ValidationError);
    return asyncTask(this.registry, item.name, item.payload, item.options, now);
  }

  /**
   * No await before the store call: on SQLite every statement must run during this call, and an
   * error the store throws synchronously is thrown from here as it is (telemetry's `enqueue`
   * calls `create` before its first await), so the caller's synchronous transaction rolls back.
   */
  private insertWithin(handle: unknown, tasks: NewTask[]): Promise<TaskId[]> {
    const store = this.db.readyNow('within()');
    const createWithin = store.createTasksWithin?.bind(store);
    if (!createWithin) throw new ValidationError(`The ${store.dialect} store cannot enqueue inside an application transaction`);
    let thrown: { error: unknown } | null = null;
    const created = this.telemetry.enqueue(tasks, (stamped) => {
      try {
        return createWithin(handle, stamped, this.clock.now());
      } catch (error) {
        thrown = { error };
        throw error;
      }
    });
    if (thrown) {
      created.catch(() => undefined);
      throw (thrown as { error: unknown }).error;
    }
    return created.then((ids) => {
      for (const task of tasks) this.wake.wakeAt(task.next_run_time);
      return ids;
    });
  }

  /**
   * Build (validating before anything connects), then write. Times are the database's: the first
   * call of a manager learns the clock's offset while it sets up, so it builds its tasks again
   * with the corrected time.
   */
  private async insert(build: (now: number) => NewTask[] | Promise<NewTask[]>): Promise<TaskId[]> {
    let tasks = await build(this.clock.now());
    if (tasks.length === 0) return [];
    if (!this.clock.synced) {
      await this.db.ready();
      tasks = await build(this.clock.now());
    }
    const store = await this.db.ready();
    const ids = await this.telemetry.enqueue(tasks, (stamped) => store.createTasks(stamped, this.clock.now()));
    for (const task of tasks) this.wake.wakeAt(task.next_run_time);
    return ids;
  }

}
