import type { ChildFailureRule, FlowResult, RetryBackoff, Task } from '@taskmill/contracts';
import type { ChildTaskDefinition, SignalWait, SignalWaitOptions, Sleep, SleepOptions, SubTasks, Suspension, SuspensionOptions } from './suspension.js';

/**
 * Describes the tasks of an application: task name → payload (and optionally result) types.
 * `TaskManager<MyTasks>` then type-checks `use`, `async` and `cron`.
 *
 * @example
 * type Tasks = { email: { payload: { to: string }; result: { sent: boolean } } };
 * const tm = new TaskManager<Tasks>({ dbConnection: 'sqlite::memory:' });
 */
export type TaskMap = Record<string, { payload: unknown; result?: unknown }>;

/** The map used when none is given: any name, `unknown` payloads and results. */
export type UntypedTaskMap = Record<string, { payload: unknown; result: unknown }>;

/** Payload type of task `K`. */
export type PayloadOf<M extends TaskMap, K extends keyof M> = M[K]['payload'];
/** Result type of task `K` (`unknown` when the map gives none). */
export type ResultOf<M extends TaskMap, K extends keyof M> = M[K] extends { result: infer R } ? R : unknown;

/** Input of `task.audit()` in object form (docs/behaviour.md#progress-and-checkpoints). */
export interface CheckpointInput {
  code: string;
  message?: string;
  metadata?: Record<string, unknown>;
}

/** Input of `task.progress()` in object form (docs/behaviour.md#progress-and-checkpoints). */
export interface ProgressInput {
  stage_name?: string;
  progress_text?: string;
  /** 0–100. */
  progress_percent?: number;
  message?: string;
  metadata?: Record<string, unknown>;
}

/** The task object a handler receives (docs/behaviour.md#handlers, #timeouts, #events). */
export interface TaskContext<Payload = unknown> extends Omit<Task, 'payload'> {
  payload: Payload;
  /** Aborts when the attempt times out, the task is paused or cancelled, or `stop()` gives up waiting. */
  readonly signal: AbortSignal;
  /** Throws `TaskTimeoutError` once this attempt has run for `timeout` seconds. */
  checkTimeout(): void;
  /** Write a `task_checkpoint` event; resolves to its id. Rejects with NotOwnerError if the task was taken away. */
  audit(code: string | CheckpointInput, details?: Omit<CheckpointInput, 'code'>): Promise<number>;
  /** Write a `task_progress` event and update the progress snapshot; resolves to the event id. */
  progress(text: string | ProgressInput, details?: Omit<ProgressInput, 'progress_text'>): Promise<number>;
  /** Shorthand for `progress({ progress_percent })`. */
  setProgress(percent: number): Promise<number>;
  /** Build a {@link Suspension}; the handler must return it. */
  suspend(options: SuspensionOptions): Suspension;
  /**
   * Build a {@link Sleep}; the handler must return it (docs/behaviour.md#durable-sleep): the task
   * sleeps for `duration` seconds (or until the Date), holding no slot, and runs again at
   * `stage + 1`.
   */
  sleep(duration: number | Date, options?: SleepOptions): Sleep;
  /**
   * Build a {@link SignalWait}; the handler must return it (docs/behaviour.md#signals): the task
   * waits for `tm.signal(id, name, data)` (or the timeout) and runs again at `stage + 1` with
   * `task.received_signal`.
   */
  waitForSignal(name: string, options?: SignalWaitOptions): SignalWait;
}

/** The handler's second argument: return `next(children, context?)` to run children and resume after them. */
export type NextFn<M extends TaskMap = UntypedTaskMap> = (
  children: ChildDefinitionOf<M> | ChildDefinitionOf<M>[],
  context?: Uint8Array,
) => SubTasks;

/** A child definition typed by the task map. */
export type ChildDefinitionOf<M extends TaskMap> = {
  [K in keyof M & string]: ChildTaskDefinition<K, PayloadOf<M, K>>;
}[keyof M & string];

/** What a handler may return. */
export type HandlerReturn<R> = R | Suspension | Promise<R | Suspension>;

/** A task handler. */
export type TaskHandler<M extends TaskMap = UntypedTaskMap, K extends keyof M = string> = (
  task: TaskContext<PayloadOf<M, K>>,
  next: NextFn<M>,
) => HandlerReturn<ResultOf<M, K>>;

/**
 * Object form of a handler registration (docs/behaviour.md#handlers): the handler as a function
 * (`handler`), or as a module run in a worker thread (`module`, docs/behaviour.md#isolated-handlers).
 */
export type HandlerConfig<M extends TaskMap = UntypedTaskMap, K extends keyof M = string> = HandlerOptions &
  (
    | { handler: TaskHandler<M, K>; module?: never; isolate?: never }
    | {
        /**
         * The handler's module, run off the main thread: a `file:` URL (`new URL('./resize.js',
         * import.meta.url)`) or an absolute path, of a file that exists at `use()`. Its default export
         * (else its export named `handler`) is called as `handler(task, next)` in a worker thread.
         */
        module: string | URL;
        /** Where the module runs: `thread`, a pool of worker threads of this process. (Default: `thread`) */
        isolate?: 'thread';
        handler?: never;
      }
  );

/** The options of a handler registration, whichever form its handler takes. */
export interface HandlerOptions {
  /** Seconds, above 0, at most `LIMITS.max_duration_seconds`. (Default: the manager's `timeout`) */
  timeout?: number;
  /** At most `LIMITS.max_retries`. (Default: the manager's `max_retries`) */
  max_retries?: number;
  /** Seconds, at most `LIMITS.max_duration_seconds`. (Default: the manager's `retry_interval`) */
  retry_interval?: number;
  /** `fixed` or `exponential` (each wait doubles, from `retry_interval`). (Default: the manager's `retry_backoff`) */
  retry_backoff?: RetryBackoff;
  /** Cap in seconds of the wait between retries, or null. (Default: the manager's `retry_max_interval`) */
  retry_max_interval?: number | null;
  /** Fraction 0..1 of each retry wait that is randomised. (Default: the manager's `retry_jitter`) */
  retry_jitter?: number;
  /** Default priority of tasks of this type, within `LIMITS.priority`. (Default: 0; for children, the parent's) */
  priority?: number;
  /** Per-process cap for this type. (Default: none) */
  max_concurrent_tasks?: number;
  /**
   * Running tasks of this type allowed at once across every worker and process sharing the
   * database, enforced inside the claim transaction. Every worker should register the same value:
   * each one enforces the limit it was given. (Default: none)
   */
  cluster_max_concurrent_tasks?: number;
  /**
   * At most `max` tasks of this type start in any window of `per` seconds, counted across every
   * worker sharing the database from the recorded start of each attempt (docs/behaviour.md#flow-control).
   * A task held back stays pending in its place; it is not an attempt. Every worker should register
   * the same value. (Default: none)
   */
  rate_limit?: { max: number; per: number };
  /**
   * Running tasks of this type with the same `concurrency_key` allowed at once across every worker
   * (1: one at a time per key, in claim order). Claims of the type then take the keys in turn, so
   * one key's backlog does not starve the others (docs/behaviour.md#flow-control). (Default: none)
   */
  max_concurrent_per_key?: number;
  description?: string;
  /**
   * A task name: when a task of this type fails for good (attempts exhausted, or a
   * `PermanentError`), a task of that name is enqueued in the same transaction with
   * `{task_id, name, payload, error, attempts, non_retryable}` as its payload
   * (docs/behaviour.md#dead-letters). Not its own name. Cron tasks never use it. (Default: none)
   */
  dead_letter?: string | null;
}

/** Options of `async()` (docs/behaviour.md#enqueueing). */
export interface AsyncOptions {
  /** Seconds before the task becomes due, at most `LIMITS.max_delay_seconds` (10 years). (Default: 0) */
  delay?: number;
  /** 32-bit integer (`LIMITS.priority`); higher runs first; negative allowed. (Default: the handler's, else 0) */
  priority?: number;
  /** Per-attempt timeout in seconds, at most `LIMITS.max_duration_seconds` (366 days). (Default: the handler's) */
  timeout?: number;
  /** Total attempts, the first included, at most `LIMITS.max_retries`. (Default: the handler's) */
  max_retries?: number;
  /** Seconds between a failure and its retry, at most `LIMITS.max_duration_seconds`. (Default: the handler's) */
  retry_interval?: number;
  /** `fixed` or `exponential`. (Default: the handler's) */
  retry_backoff?: RetryBackoff;
  /** Cap in seconds of the wait between retries, or null. (Default: the handler's) */
  retry_max_interval?: number | null;
  /** Fraction 0..1 of each retry wait that is randomised. (Default: the handler's) */
  retry_jitter?: number;
  tag?: string;
  /**
   * The key the handler's `max_concurrent_per_key` counts, and its claims share turns across (a
   * tenant, an account, a document). Non-empty, at most 255 characters. (Default: none)
   */
  concurrency_key?: string;
  /**
   * Where this task's dead letter goes if it fails for good, overriding the handler's; null: none
   * (docs/behaviour.md#dead-letters). Not an option of `cron()`. (Default: the handler's)
   */
  dead_letter?: string | null;
  /**
   * Deduplication key: at most one task of this name holds it while `unique_scope` lasts; a
   * duplicate enqueue returns the holder's id (or throws, see `on_duplicate`). Non-empty, at most
   * 255 characters. (Default: none)
   */
  unique_key?: string;
  /**
   * How long the key keeps duplicates out: `pending` (until first claimed, paused or finished),
   * `unfinished` (until completed or permanently failed, cancel included) or `period`
   * (`unique_period` seconds from the enqueue). (Default: `unfinished`; `pending` with `debounce`)
   */
  unique_scope?: 'pending' | 'unfinished' | 'period';
  /** Seconds a `period` scope lasts (required with it, only with it). */
  unique_period?: number;
  /**
   * A duplicate `return`s the holder's id; throws `DuplicateTaskError` (`error`), writing nothing;
   * or (`replace`) gives its payload to the holder while that is still `pending`, and returns the
   * holder's id (docs/behaviour.md#debounce-and-replace). (Default: `return`)
   */
  on_duplicate?: 'return' | 'error' | 'replace';
  /**
   * Seconds: the task runs this long after the enqueue, and each duplicate while it is still
   * `pending` pushes its run to this long after the duplicate (combine with `on_duplicate:
   * 'replace'` to run with the last payload). Needs `unique_key`; not with `delay`, `on_duplicate:
   * 'error'` or `unique_scope: 'period'`; at most `LIMITS.max_delay_seconds`. (Default: none)
   */
  debounce?: number;
}

/** Options of `cron()`: those of `async()` without `delay`, `debounce` and `dead_letter` (a cron task pauses, never fails for good), plus a time zone. */
export interface CronOptions extends Omit<AsyncOptions, 'delay' | 'debounce' | 'dead_letter'> {
  /** IANA time zone the expression is evaluated in. (Default: `UTC`) */
  tz?: string;
}

/**
 * The definition of a managed schedule (docs/behaviour.md#schedules): exactly one of `cron` and
 * `every`, and the task options of `cron()` but the unique ones (the schedule's key is its unique
 * key). A `schedule()` call sets the whole definition: an option left out takes its default again.
 */
export interface ScheduleSpec<P = unknown> extends Omit<CronOptions, 'unique_key' | 'unique_scope' | 'unique_period' | 'on_duplicate'> {
  /** A cron expression (as `cron()` accepts), evaluated in `tz`. */
  cron?: string;
  /** Seconds between runs, a whole number from 1 to `LIMITS.max_every_seconds`: runs fall on the multiples of it since the Unix epoch. */
  every?: number;
  /** The payload of every run. (Default: `{}`) */
  payload?: P;
}

/** One entry of `asyncMany()`. */
export interface AsyncBatchItem<M extends TaskMap = UntypedTaskMap, K extends keyof M & string = keyof M & string> {
  name: K;
  payload?: PayloadOf<M, K>;
  options?: AsyncOptions;
}

/**
 * Enqueue methods bound to the application's transaction (`tm.within(tx)`): the same arguments
 * and validation as the manager's `async`, `asyncMany` and `cron`; the tasks commit or roll
 * back with that transaction.
 */
export interface TransactionalEnqueue<M extends TaskMap = UntypedTaskMap> {
  async<K extends keyof M & string>(name: K, payload?: PayloadOf<M, K>, options?: AsyncOptions): Promise<number>;
  asyncMany(items: AsyncBatchItem<M>[]): Promise<number[]>;
  cron<K extends keyof M & string>(name: K, cronExpr: string, payload?: PayloadOf<M, K>, options?: CronOptions): Promise<number>;
  /** A flow in the application's transaction (docs/behaviour.md#flows). */
  flow(def: FlowDefinition<M>): Promise<FlowResult>;
}

/**
 * A flow created up front (docs/behaviour.md#flows): a task and its children, nested. Its tasks
 * run leaves first; each task with children runs once they have all finished, at stage 1, with
 * `task.result` = their outcomes.
 */
export interface FlowDefinition<M extends TaskMap = UntypedTaskMap, K extends keyof M & string = keyof M & string> {
  name: K;
  /** The root's payload. (Default: `{}`) */
  payload?: PayloadOf<M, K>;
  /**
   * The root's options: those of `async()` (unique keys with `on_duplicate` `return` or `error`,
   * tags, priorities, retries, `dead_letter`…) but `debounce`; `delay` only for a root without children.
   */
  options?: Omit<AsyncOptions, 'debounce'>;
  children?: FlowChildDefinition<M>[];
}

/** A child of a flow, with children of its own. */
export interface FlowChildDefinition<M extends TaskMap = UntypedTaskMap, K extends keyof M & string = keyof M & string> {
  name: K;
  /** Stored as given; none is `null` (as for a `next()` child). */
  payload?: PayloadOf<M, K>;
  /**
   * What this child's failure for good does to its parent (docs/behaviour.md#child-failure-rules):
   * `fail` the parent at once, `ignore` it, or `continue` (the parent sees `{task_id, error}`). (Default: `continue`)
   */
  on_failure?: ChildFailureRule;
  /**
   * `priority` (default: the parent's), `timeout`, `max_retries`, `retry_interval`,
   * `retry_backoff`, `retry_max_interval`, `retry_jitter`, `tag`, `concurrency_key`,
   * `dead_letter`, and `delay` (seconds, only for a task without children).
   */
  options?: Pick<AsyncOptions, 'delay' | 'priority' | 'timeout' | 'max_retries' | 'retry_interval' | 'retry_backoff' | 'retry_max_interval' | 'retry_jitter' | 'tag' | 'concurrency_key' | 'dead_letter'>;
  children?: FlowChildDefinition<M>[];
}
