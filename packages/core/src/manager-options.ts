import { ConfigurationError, ValidationError, assertStorableText, isPlainObject, knownKeysObject, type RetryBackoff, type Store } from '@taskmill/contracts';
import { checkExpireTime, normalizeRetentionPolicy, resolveSweepTiming, type NormalizedRetentionRule, type RetentionPolicy } from '@taskmill/retention';
import { nanoid } from 'nanoid';
import {
  intervalMs,
  maxRetries,
  positiveInteger,
  prefetchTasks,
  retryBackoff,
  retryIntervalSeconds,
  retryJitter,
  retryMaxInterval,
  timeoutSeconds,
  type ErrorClass,
} from './validate.js';
import { resolveTelemetryOptions, type ResolvedTelemetryOptions, type TelemetryOptions } from './telemetry-options.js';

/**
 * Options of `new TaskManager(options)` (docs/behaviour.md#options, #connections, #graceful-stop). Millisecond options are at most
 * `LIMITS.max_interval_ms`; a value out of range throws ConfigurationError.
 */
export interface TaskManagerOptions {
  /**
   * Required. `sqlite:<path>`, `sqlite::memory:`, `postgres://…`, `postgresql://…`, `psql://…`,
   * `mysql://…`, or a store object from a store package's factory.
   */
  dbConnection: string | Store;
  /** Optional; only checked for consistency with `dbConnection` (`sqlite`, `mysql`, `postgres`, `psql`). */
  dbType?: string;
  /** Idle wait of the claim loop in ms, at most `LIMITS.max_interval_ms`. (Default: 1000) */
  poll_interval?: number;
  /**
   * How often (ms) result waiters and event subscriptions of this process probe the newest event id
   * while any exists: one statement per probe for all of them (docs/behaviour.md#results). At most
   * `LIMITS.max_interval_ms`. (Default: 100)
   */
  event_poll_interval?: number;
  /** Default total attempts, the first included, at most `LIMITS.max_retries`. (Default: 3) */
  max_retries?: number;
  /** Default seconds between a failure and its retry, at most `LIMITS.max_duration_seconds`. (Default: 0) */
  retry_interval?: number;
  /** Default growth of the wait between retries: `fixed` or `exponential` (doubling from `retry_interval`). (Default: `fixed`) */
  retry_backoff?: RetryBackoff;
  /** Default cap in seconds of the wait between retries, or null for none (then at most `LIMITS.max_duration_seconds`). (Default: null) */
  retry_max_interval?: number | null;
  /** Default fraction (0..1) of each retry wait that is randomised, shortening it by up to that much. (Default: 0) */
  retry_jitter?: number;
  /** Default per-attempt timeout in seconds, at most `LIMITS.max_duration_seconds`. (Default: 60) */
  timeout?: number;
  /**
   * Whether `setup()` (and the first use) may create or migrate the schema. `false` is reader
   * mode: nothing is ever created or migrated, so a role without DDL rights (one that may only
   * SELECT, for queries, or only read and write rows, for workers) can use the manager; a schema
   * that is missing or behind this version is a SchemaNotReadyError instead. (Default: true)
   */
  migrate?: boolean;
  /** This process instance's id. (Default: `worker-` + nanoid) */
  worker_id?: string;
  /** Stable logical node id; a restarted process of the same pod supersedes the old one. (Default: null) */
  pod_id?: string | null;
  /** Handlers this process runs at once. (Default: 10) */
  max_concurrent_tasks?: number;
  /**
   * Claimed tasks this process may hold, beyond its free slots, in a local queue (claim order) until
   * a slot frees, at most `LIMITS.max_prefetch_tasks`; 0 claims only for free slots. A worker that
   * prefetches claims more tasks per claim transaction, and its outcomes commit in bigger groups,
   * which lowers the cost per task of short tasks; at most `max_concurrent_tasks` handlers still run
   * at once, and a type's `max_concurrent_tasks` counts its queued tasks too. The trade-off: a
   * queued task is already `running` in the database, so its attempt, its `timeout` and its start
   * time begin at the claim, not when its handler starts; it can time out while it waits; and no
   * other worker can take it meanwhile. Keep this small next to what a worker finishes within a
   * task's timeout. `stop()` hands queued tasks back at once (attempt `interrupted`, no retry
   * consumed). (Default: 0)
   */
  prefetch_tasks?: number;
  /** Period in ms of task heartbeats and the timeout sweep. (Default: 5000) */
  task_heartbeat_interval?: number;
  /** A running task without a heartbeat for this many ms is timed out. (Default: 30000) */
  task_heartbeat_timeout?: number;
  /** Period in ms of the worker registry heartbeat. (Default: 5000) */
  worker_heartbeat_interval?: number;
  /** Worker lease length in ms. (Default: 30000) */
  worker_heartbeat_timeout?: number;
  /** Hand running tasks of dead or superseded workers back to `pending`. (Default: true) */
  recover_running_jobs?: boolean;
  /** How long `stop()` waits for in-flight handlers, in ms. (Default: 30000) */
  shutdown_timeout?: number;
  /**
   * Seconds after its last activity when a finished task may be deleted, for `retention` rules that
   * give none (docs/behaviour.md#options, #retention); `null` or `false` turns retention off. (Default: 3600 for
   * `sqlite::memory:`, else 86400)
   */
  expire_time?: number | null | false;
  /**
   * What automatic sweeps and `runRetention()` delete, with the tasks' events and attempts (docs/behaviour.md#retention):
   * a rule `{ expire_time?, statuses? }` (statuses ⊆ `completed`, `permanently_failed`, `paused`),
   * a number (the expire_time), an array of rules, one per group of statuses, to keep some longer
   * (e.g. `[{ expire_time: 86400, statuses: ['completed'] }, { expire_time: 2592000, statuses:
   * ['permanently_failed'] }]` keeps failures 30 days and successes one), or `false` to turn it
   * off. Pending, running, suspended, failed and timeout tasks are never deleted.
   * (Default: `{ expire_time, statuses: ['completed', 'permanently_failed'] }`)
   */
  retention?: RetentionPolicy;
  /**
   * Ms between automatic retention sweeps while they find nothing expired, at most
   * `LIMITS.max_interval_ms`. The first sweep comes a full interval after `start()`; each one stops
   * starting batches after `retention_time_budget`; while expired tasks remain, the next follows
   * after `retention_pause`. One worker of a cluster sweeps at a time (the store's retention lock). (Default: 300000)
   */
  retention_interval?: number;
  /**
   * Time slice of one automatic retention sweep in ms: it starts no batch after it (a batch under
   * way finishes). (Default: the smaller of 1000 and half of `retention_interval`)
   */
  retention_time_budget?: number;
  /**
   * Ms from a sweep that left expired tasks (its slice ran out) to the next one, at most
   * `retention_interval`: a backlog is swept `retention_time_budget` of every
   * `retention_time_budget + retention_pause` ms, and workers have the database to themselves in
   * between. A longer pause costs workers less and clears a backlog more slowly. (Default: twice
   * `retention_time_budget`, at most `retention_interval`)
   */
  retention_pause?: number;
  /**
   * Called with errors of the background loops (claim, heartbeats, sweeps), and once per handler that
   * outlives its attempt (timed out, paused, cancelled, recovered, interrupted by `stop()`) by a
   * second or more, at the next maintenance tick (`where` = `'overdue handler'`). Such a handler
   * keeps its slot until it returns, and is listed in this worker's registry row
   * (`meta.overdue_handlers`). (Default: console.warn)
   */
  onError?: (error: unknown, where: string) => void;
  /**
   * OpenTelemetry metrics and spans through `@opentelemetry/api` (no-ops until an SDK is
   * registered): `false` turns them off, an object picks providers and the database gauges'
   * cache (see {@link TelemetryOptions} and the README). (Default: true, the global providers)
   */
  telemetry?: boolean | TelemetryOptions;
}

/** Options after defaults. */
export interface ResolvedOptions {
  poll_interval: number;
  event_poll_interval: number;
  max_retries: number;
  retry_interval: number;
  retry_backoff: RetryBackoff;
  retry_max_interval: number | null;
  retry_jitter: number;
  timeout: number;
  migrate: boolean;
  worker_id: string;
  pod_id: string | null;
  max_concurrent_tasks: number;
  prefetch_tasks: number;
  task_heartbeat_interval: number;
  task_heartbeat_timeout: number;
  worker_heartbeat_interval: number;
  worker_heartbeat_timeout: number;
  recover_running_jobs: boolean;
  shutdown_timeout: number;
  /** The shortest expire_time of the retention rules; null when retention is off. */
  expire_time: number | null;
  /** The validated retention rules; empty when retention is off. */
  retention: NormalizedRetentionRule[];
  retention_interval: number;
  retention_time_budget: number;
  retention_pause: number;
  onError: (error: unknown, where: string) => void;
  telemetry: ResolvedTelemetryOptions;
}

const KNOWN = [
  'dbConnection',
  'dbType',
  'poll_interval',
  'event_poll_interval',
  'max_retries',
  'retry_interval',
  'retry_backoff',
  'retry_max_interval',
  'retry_jitter',
  'timeout',
  'migrate',
  'worker_id',
  'pod_id',
  'max_concurrent_tasks',
  'prefetch_tasks',
  'task_heartbeat_interval',
  'task_heartbeat_timeout',
  'worker_heartbeat_interval',
  'worker_heartbeat_timeout',
  'recover_running_jobs',
  'shutdown_timeout',
  'expire_time',
  'retention',
  'retention_interval',
  'retention_time_budget',
  'retention_pause',
  'onError',
  'telemetry',
] as const;

const NO_CONNECTION = 'TaskManager requires an explicit dbConnection';

/** Validate the constructor options and apply defaults. Every number is bounded (LIMITS). */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (!isPlainObject(options) || !Object.hasOwn(options, 'dbConnection') || options.dbConnection == null) {
    throw new ConfigurationError(NO_CONNECTION);
  }
  knownKeysObject(options, KNOWN, { notObject: NO_CONNECTION, unknownKey: (key) => `Unknown TaskManager option "${key}"` }, ConfigurationError);
  const workerId = options.worker_id ?? `worker-${nanoid(12)}`;
  if (typeof workerId !== 'string' || workerId.trim() === '' || workerId.length > 255) {
    throw new ConfigurationError('Option worker_id must be a non-empty string of at most 255 characters');
  }
  assertStorableText(workerId, 'Option worker_id', ConfigurationError);
  const podId = options.pod_id ?? null;
  if (podId !== null && (typeof podId !== 'string' || podId.trim() === '' || podId.length > 255)) {
    throw new ConfigurationError('Option pod_id must be a non-empty string of at most 255 characters');
  }
  if (podId !== null) assertStorableText(podId, 'Option pod_id', ConfigurationError);
  const migrate = options.migrate ?? true;
  if (typeof migrate !== 'boolean') throw new ConfigurationError('Option migrate must be a boolean');
  const recover = options.recover_running_jobs ?? true;
  if (typeof recover !== 'boolean') throw new ConfigurationError('Option recover_running_jobs must be a boolean');
  const onError = options.onError ?? defaultOnError;
  if (typeof onError !== 'function') throw new ConfigurationError('Option onError must be a function');
  const option = <T>(key: string, fallback: T, check: (value: unknown, what: string, Err: ErrorClass) => T): T =>
    options[key] === undefined ? fallback : check(options[key], `Option ${key}`, ConfigurationError);
  const ms = (allowZero: boolean) => (value: unknown, what: string, Err: ErrorClass) => intervalMs(value, what, allowZero, Err);
  const retention = resolveRetention(options);
  return {
    poll_interval: option('poll_interval', 1000, ms(false)),
    event_poll_interval: option('event_poll_interval', 100, ms(false)),
    max_retries: option('max_retries', 3, maxRetries),
    retry_interval: option('retry_interval', 0, retryIntervalSeconds),
    retry_backoff: option<RetryBackoff>('retry_backoff', 'fixed', retryBackoff),
    retry_max_interval: option<number | null>('retry_max_interval', null, retryMaxInterval),
    retry_jitter: option('retry_jitter', 0, retryJitter),
    timeout: option('timeout', 60, timeoutSeconds),
    migrate,
    worker_id: workerId,
    pod_id: podId as string | null,
    max_concurrent_tasks: option('max_concurrent_tasks', 10, positiveInteger),
    prefetch_tasks: option('prefetch_tasks', 0, prefetchTasks),
    task_heartbeat_interval: option('task_heartbeat_interval', 5000, ms(false)),
    task_heartbeat_timeout: option('task_heartbeat_timeout', 30000, ms(false)),
    worker_heartbeat_interval: option('worker_heartbeat_interval', 5000, ms(false)),
    worker_heartbeat_timeout: option('worker_heartbeat_timeout', 30000, ms(false)),
    recover_running_jobs: recover,
    shutdown_timeout: option('shutdown_timeout', 30000, ms(true)),
    expire_time: retention.length > 0 ? Math.min(...retention.map((rule) => rule.expire_time)) : null,
    retention,
    ...retentionTiming(
      option('retention_interval', 300000, ms(false)),
      option<number | undefined>('retention_time_budget', undefined, ms(false)),
      option<number | undefined>('retention_pause', undefined, ms(false)),
    ),
    onError: onError as ResolvedOptions['onError'],
    telemetry: resolveTelemetryOptions(options.telemetry),
  };
}

/**
 * The retention rules (docs/behaviour.md#options): `retention` rules without an expire_time take the
 * `expire_time` option, or its default. Checked now, so a bad policy fails at construction
 * rather than at the first sweep minutes later.
 */
function resolveRetention(options: Record<string, unknown>): NormalizedRetentionRule[] {
  try {
    const expireTime =
      options.expire_time === undefined ? (options.dbConnection === 'sqlite::memory:' ? 3600 : 86400) : checkExpireTime(options.expire_time, 'Option expire_time');
    return normalizeRetentionPolicy(options.retention ?? {}, { expire_time: expireTime });
  } catch (error) {
    if (error instanceof ValidationError) throw new ConfigurationError(error.message, { cause: error });
    throw error;
  }
}

/** The sweeper's interval, slice and pause, as the sweeper resolves their defaults (each already checked here). */
function retentionTiming(interval: number, budget: number | undefined, pause: number | undefined) {
  const timing = resolveSweepTiming({ interval_ms: interval, time_budget_ms: budget, pause_ms: pause });
  return { retention_interval: timing.interval_ms, retention_time_budget: timing.time_budget_ms, retention_pause: timing.pause_ms };
}

function defaultOnError(error: unknown, where: string): void {
  console.warn(`[taskmill] ${where}:`, error instanceof Error ? error.message : error);
}
