import { ValidationError, isPlainObject, type NewChildTask, type NewTask, type Task } from '@taskmill/contracts';
import { DEFAULT_CRON_TZ, nextCronTime } from './cron.js';
import type { HandlerDefinition, HandlerRegistry } from './handler-registry.js';
import { toJsonText } from './serialize.js';
import * as v from './validate.js';

/*
 * The one resolver of per-task options, for `async()`, `asyncMany()`, `cron()` and children
 * created by `next()` (SPEC B2.3, B4.1). A value given with the task wins; else the handler's
 * registration default (which itself defaults to the manager's options); for `priority`, which a
 * registration may leave unset, else the fallback: 0 for top-level tasks, the parent's priority for
 * children. Every value is validated against LIMITS here, before anything is written.
 */

/** Priority of a top-level task whose handler gives none. */
export const DEFAULT_PRIORITY = 0;

const COMMON_KEYS = ['priority', 'timeout', 'max_retries', 'retry_interval', 'retry_backoff', 'retry_max_interval', 'retry_jitter', 'tag'] as const;
const ASYNC_KEYS = [...COMMON_KEYS, 'delay'] as const;
const CRON_KEYS = [...COMMON_KEYS, 'tz'] as const;

function resolve(def: HandlerDefinition, payload: unknown, opts: Record<string, unknown>, fallbackPriority: number, what: string): NewChildTask {
  return {
    name: def.name,
    payload: toJsonText(payload, `Payload of ${what} ${def.name}`),
    priority: opts.priority !== undefined ? v.priority(opts.priority) : (def.priority ?? fallbackPriority),
    tag: v.optionalTag(opts.tag),
    timeout: opts.timeout !== undefined ? v.timeoutSeconds(opts.timeout) : def.timeout,
    max_retries: opts.max_retries !== undefined ? v.maxRetries(opts.max_retries) : def.max_retries,
    retry_interval: opts.retry_interval !== undefined ? v.retryIntervalSeconds(opts.retry_interval) : def.retry_interval,
    retry_backoff: opts.retry_backoff !== undefined ? v.retryBackoff(opts.retry_backoff) : def.retry_backoff,
    retry_max_interval: opts.retry_max_interval !== undefined ? v.retryMaxInterval(opts.retry_max_interval) : def.retry_max_interval,
    retry_jitter: opts.retry_jitter !== undefined ? v.retryJitter(opts.retry_jitter) : def.retry_jitter,
    trace_context: null,
  };
}

const NOT_UNIQUE = { unique_key: null, unique_scope: null, unique_until: null } as const;

/** `async(name)` without a payload stores `{}`, as fib-flow does (SPEC A18). */
function topLevelPayload(payload: unknown): unknown {
  return payload === undefined ? {} : payload;
}

/** A one-off task: `async(name, payload?, {delay, priority, timeout, max_retries, retry_interval, tag})`. */
export function asyncTask(registry: HandlerRegistry, name: unknown, payload: unknown, options: unknown, now: number): NewTask {
  const def = registry.require(name);
  const opts = v.optionsObject(options, 'async options');
  v.knownKeys(opts, ASYNC_KEYS, 'async');
  const delay = opts.delay === undefined ? 0 : v.delaySeconds(opts.delay);
  return {
    ...resolve(def, topLevelPayload(payload), opts, DEFAULT_PRIORITY, 'task'),
    type: 'async',
    next_run_time: now + Math.round(delay * 1000),
    cron_expr: null,
    cron_tz: null,
    ...NOT_UNIQUE,
  };
}

/** A cron task: `cron(name, expr, payload?, {priority, timeout, max_retries, retry_interval, tag, tz})`, UTC unless `tz`. */
export function cronTask(registry: HandlerRegistry, name: unknown, cronExpr: string, payload: unknown, options: unknown, now: number): NewTask {
  const def = registry.require(name);
  const opts = v.optionsObject(options, 'cron options');
  v.knownKeys(opts, CRON_KEYS, 'cron');
  const tz = opts.tz === undefined ? DEFAULT_CRON_TZ : v.nonEmptyString(opts.tz, 'tz');
  const nextRun = nextCronTime(cronExpr, tz, now);
  return { ...resolve(def, topLevelPayload(payload), opts, DEFAULT_PRIORITY, 'task'), type: 'cron', next_run_time: nextRun, cron_expr: cronExpr, cron_tz: tz, ...NOT_UNIQUE };
}

/**
 * A child from a `next()` definition, resolved against the live registry at creation time (SPEC
 * B2.2, B4.1). Its payload is passed through as given; other fields of the definition are ignored.
 */
export function childTask(registry: HandlerRegistry, def: unknown, parent: Task): NewChildTask {
  if (!isPlainObject(def)) throw new ValidationError('Child task definition must be an object');
  if (def.name === undefined || def.name === null || def.name === '') {
    throw new ValidationError('Child task missing required name property');
  }
  const handler = registry.require(def.name, (n) => `No handler registered for child task: ${n}`);
  return resolve(handler, def.payload, def, parent.priority, 'child task');
}
