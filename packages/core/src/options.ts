import { ConfigurationError, type Store } from '@taskmill/contracts';
import { nanoid } from 'nanoid';
import {
  intervalMs,
  isPlainObject,
  maxRetries,
  positiveInteger,
  retryIntervalSeconds,
  timeoutSeconds,
  type ErrorClass,
} from './validate.js';

/**
 * Options of `new TaskManager(options)` (SPEC B2.1, A2, A7). Millisecond options are at most
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
  /** Default total attempts, the first included, at most `LIMITS.max_retries`. (Default: 3) */
  max_retries?: number;
  /** Default seconds between a failure and its retry, at most `LIMITS.max_duration_seconds`. (Default: 0) */
  retry_interval?: number;
  /** Default per-attempt timeout in seconds, at most `LIMITS.max_duration_seconds`. (Default: 60) */
  timeout?: number;
  /** This process instance's id. (Default: `worker-` + nanoid) */
  worker_id?: string;
  /** Stable logical node id; a restarted process of the same pod supersedes the old one. (Default: null) */
  pod_id?: string | null;
  /** Handlers this process runs at once. (Default: 10) */
  max_concurrent_tasks?: number;
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
   * Called with errors of the background loops (claim, heartbeats, sweeps), and once per handler that
   * outlives its attempt (timed out, paused, cancelled, recovered, interrupted by `stop()`) by a
   * second or more, at the next maintenance tick (`where` = `'overdue handler'`). Such a handler
   * keeps its slot until it returns, and is listed in this worker's registry row
   * (`meta.overdue_handlers`). (Default: console.warn)
   */
  onError?: (error: unknown, where: string) => void;
}

/** Options after defaults. */
export interface ResolvedOptions {
  poll_interval: number;
  max_retries: number;
  retry_interval: number;
  timeout: number;
  worker_id: string;
  pod_id: string | null;
  max_concurrent_tasks: number;
  task_heartbeat_interval: number;
  task_heartbeat_timeout: number;
  worker_heartbeat_interval: number;
  worker_heartbeat_timeout: number;
  recover_running_jobs: boolean;
  shutdown_timeout: number;
  onError: (error: unknown, where: string) => void;
}

const KNOWN = [
  'dbConnection',
  'dbType',
  'poll_interval',
  'max_retries',
  'retry_interval',
  'timeout',
  'worker_id',
  'pod_id',
  'max_concurrent_tasks',
  'task_heartbeat_interval',
  'task_heartbeat_timeout',
  'worker_heartbeat_interval',
  'worker_heartbeat_timeout',
  'recover_running_jobs',
  'shutdown_timeout',
  'onError',
] as const;

/** Validate the constructor options and apply defaults. Every number is bounded (LIMITS). */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (!isPlainObject(options) || !Object.hasOwn(options, 'dbConnection') || options.dbConnection == null) {
    throw new ConfigurationError('TaskManager requires an explicit dbConnection');
  }
  for (const key of Object.keys(options)) {
    if (!(KNOWN as readonly string[]).includes(key)) {
      throw new ConfigurationError(`Unknown TaskManager option "${key}"`);
    }
  }
  const workerId = options.worker_id ?? `worker-${nanoid(12)}`;
  if (typeof workerId !== 'string' || workerId.trim() === '' || workerId.length > 255) {
    throw new ConfigurationError('Option worker_id must be a non-empty string of at most 255 characters');
  }
  const podId = options.pod_id ?? null;
  if (podId !== null && (typeof podId !== 'string' || podId.trim() === '' || podId.length > 255)) {
    throw new ConfigurationError('Option pod_id must be a non-empty string of at most 255 characters');
  }
  const recover = options.recover_running_jobs ?? true;
  if (typeof recover !== 'boolean') throw new ConfigurationError('Option recover_running_jobs must be a boolean');
  const onError = options.onError ?? defaultOnError;
  if (typeof onError !== 'function') throw new ConfigurationError('Option onError must be a function');
  const option = <T>(key: string, fallback: T, check: (value: unknown, what: string, Err: ErrorClass) => T): T =>
    options[key] === undefined ? fallback : check(options[key], `Option ${key}`, ConfigurationError);
  const ms = (allowZero: boolean) => (value: unknown, what: string, Err: ErrorClass) => intervalMs(value, what, allowZero, Err);
  return {
    poll_interval: option('poll_interval', 1000, ms(false)),
    max_retries: option('max_retries', 3, maxRetries),
    retry_interval: option('retry_interval', 0, retryIntervalSeconds),
    timeout: option('timeout', 60, timeoutSeconds),
    worker_id: workerId,
    pod_id: podId as string | null,
    max_concurrent_tasks: option('max_concurrent_tasks', 10, positiveInteger),
    task_heartbeat_interval: option('task_heartbeat_interval', 5000, ms(false)),
    task_heartbeat_timeout: option('task_heartbeat_timeout', 30000, ms(false)),
    worker_heartbeat_interval: option('worker_heartbeat_interval', 5000, ms(false)),
    worker_heartbeat_timeout: option('worker_heartbeat_timeout', 30000, ms(false)),
    recover_running_jobs: recover,
    shutdown_timeout: option('shutdown_timeout', 30000, ms(true)),
    onError: onError as ResolvedOptions['onError'],
  };
}

function defaultOnError(error: unknown, where: string): void {
  console.warn(`[taskmill] ${where}:`, error instanceof Error ? error.message : error);
}
