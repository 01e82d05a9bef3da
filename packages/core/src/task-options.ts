import { InvalidCronError, LIMITS, LimitExceededError, ValidationError, everyExpr, isPlainObject, knownKeysObject, unknownOption, type NewChildTask, type NewFlow, type NewFlowChild, type NewTask, type Task } from '@taskmill/contracts';
import { DEFAULT_CRON_TZ, nextCronTime, nextRunTime } from './cron.js';
import type { HandlerDefinition, HandlerRegistry, TaskDefaults } from './handler-registry.js';
import { toJsonText } from './serialize.js';
import * as v from './validate.js';

/*
 * The one resolver of per-task options, for `async()`, `asyncMany()`, `cron()` and children
 * created by `next()` (docs/behaviour.md#enqueueing, #workflows). A value given with the task wins; else the handler's
 * registration default (which itself defaults to the manager's options); for `priority`, which a
 * registration may leave unset, else the fallback: 0 for top-level tasks, the parent's priority for
 * children. Every value is validated against LIMITS here, before anything is written.
 */

/** Priority of a top-level task whose handler gives none. */
export const DEFAULT_PRIORITY = 0;

const COMMON_KEYS = [
  'priority',
  'timeout',
  'max_retries',
  'retry_interval',
  'retry_backoff',
  'retry_max_interval',
  'retry_jitter',
  'tag',
  'concurrency_key',
] as const;
const ASYNC_KEYS = [...COMMON_KEYS, 'dead_letter', 'delay', 'unique_key', 'unique_scope', 'unique_period', 'on_duplicate', 'debounce'] as const;
const CRON_KEYS = [...COMMON_KEYS, 'tz', 'unique_key', 'unique_scope', 'unique_period', 'on_duplicate'] as const;

function resolve(def: TaskDefaults, payload: unknown, opts: Record<string, unknown>, fallbackPriority: number, what: string): NewChildTask {
  return {
    name: def.name,
    payload: toJsonText(payload, `Payload of ${what} ${def.name}`, 'max_payload_bytes'),
    priority: opts.priority !== undefined ? v.priority(opts.priority) : (def.priority ?? fallbackPriority),
    tag: v.optionalTag(opts.tag),
    timeout: opts.timeout !== undefined ? v.timeoutSeconds(opts.timeout) : def.timeout,
    max_retries: opts.max_retries !== undefined ? v.maxRetries(opts.max_retries) : def.max_retries,
    retry_interval: opts.retry_interval !== undefined ? v.retryIntervalSeconds(opts.retry_interval) : def.retry_interval,
    retry_backoff: opts.retry_backoff !== undefined ? v.retryBackoff(opts.retry_backoff) : def.retry_backoff,
    retry_max_interval: opts.retry_max_interval !== undefined ? v.retryMaxInterval(opts.retry_max_interval) : def.retry_max_interval,
    retry_jitter: opts.retry_jitter !== undefined ? v.retryJitter(opts.retry_jitter) : def.retry_jitter,
    trace_context: null,
    concurrency_key: opts.concurrency_key !== undefined && opts.concurrency_key !== null ? v.concurrencyKey(opts.concurrency_key) : null,
    dead_letter: opts.dead_letter !== undefined ? v.deadLetter(opts.dead_letter, def.name) : def.dead_letter,
  };
}

const UNIQUE_KEYS = ['unique_key', 'unique_scope', 'unique_period', 'on_duplicate', 'debounce'] as const;
const NOT_UNIQUE = { unique_key: null, unique_scope: null, unique_until: null, on_duplicate: undefined, debounce: false } as const;

/**
 * `unique_key` with its scope (`unfinished` unless given, `pending` with `debounce`; `period` needs
 * `unique_period` seconds, which ends the scope at `now + unique_period`), `on_duplicate` (`return`
 * unless given) and `debounce` (docs/behaviour.md#debounce-and-replace).
 */
function uniqueness(opts: Record<string, unknown>, now: number): Pick<NewTask, 'unique_key' | 'unique_scope' | 'unique_until' | 'on_duplicate' | 'debounce'> {
  if (opts.unique_key === undefined) {
    for (const key of UNIQUE_KEYS) if (opts[key] !== undefined) throw new ValidationError(`${key} needs a unique_key`);
    return NOT_UNIQUE;
  }
  const key = v.uniqueKey(opts.unique_key);
  const debounced = opts.debounce !== undefined;
  const scope = opts.unique_scope === undefined ? (debounced ? 'pending' : 'unfinished') : v.uniqueScope(opts.unique_scope);
  if (scope !== 'period' && opts.unique_period !== undefined) throw new ValidationError(`unique_period is only for unique_scope 'period', not '${scope}'`);
  const period = scope === 'period' ? v.uniquePeriodSeconds(opts.unique_period) : null;
  const onDuplicate = opts.on_duplicate === undefined ? 'return' : v.onDuplicate(opts.on_duplicate);
  if (debounced) {
    if (scope === 'period') throw new ValidationError("debounce is for unique_scope 'pending' or 'unfinished', not 'period'");
    if (onDuplicate === 'error') throw new ValidationError("debounce cannot be combined with on_duplicate 'error'");
    if (opts.delay !== undefined) throw new ValidationError('debounce and delay cannot be combined: debounce is the delay');
  }
  return {
    unique_key: key,
    unique_scope: scope,
    unique_until: period === null ? null : now + Math.round(period * 1000),
    on_duplicate: onDuplicate,
    debounce: debounced,
  };
}

/** `async(name)` without a payload stores `{}`, as fib-flow does (docs/behaviour.md#decisions). */
function topLevelPayload(payload: unknown): unknown {
  return payload === undefined ? {} : payload;
}

/** A one-off task: `async(name, payload?, {delay, priority, timeout, max_retries, retry_interval, tag})`. */
export function asyncTask(registry: HandlerRegistry, name: unknown, payload: unknown, options: unknown, now: number): NewTask {
  const def = registry.require(name);
  const opts = v.knownOptions(options, ASYNC_KEYS, 'async options', 'async');
  // debounce (seconds) is the delay of a debounced task, and each duplicate's new due time
  const delay = opts.debounce !== undefined ? v.delaySeconds(opts.debounce, 'debounce') : opts.delay === undefined ? 0 : v.delaySeconds(opts.delay);
  return topLevel(resolve(def, topLevelPayload(payload), opts, DEFAULT_PRIORITY, 'task'), 'async', now + Math.round(delay * 1000), null, null, opts, now);
}

/**
 * A top-level task: the resolved fields, its type and schedule, and its uniqueness. One object
 * literal of one shape (not spreads of several): enqueueing a large batch builds many of them.
 */
function topLevel(
  resolved: NewChildTask,
  type: NewTask['type'],
  nextRunTime: number,
  cronExpr: string | null,
  cronTz: string | null,
  opts: Record<string, unknown>,
  now: number,
): NewTask {
  const unique = uniqueness(opts, now);
  return {
    name: resolved.name,
    type,
    payload: resolved.payload,
    priority: resolved.priority,
    tag: resolved.tag,
    next_run_time: nextRunTime,
    timeout: resolved.timeout,
    max_retries: resolved.max_retries,
    retry_interval: resolved.retry_interval,
    cron_expr: cronExpr,
    cron_tz: cronTz,
    retry_backoff: resolved.retry_backoff,
    retry_max_interval: resolved.retry_max_interval,
    retry_jitter: resolved.retry_jitter,
    unique_key: unique.unique_key,
    unique_scope: unique.unique_scope,
    unique_until: unique.unique_until,
    on_duplicate: unique.on_duplicate,
    debounce: unique.debounce,
    trace_context: resolved.trace_context,
    concurrency_key: resolved.concurrency_key,
    // a cron task pauses when its attempts run out, never fails for good: no dead letter (docs/behaviour.md#dead-letters)
    dead_letter: type === 'cron' ? null : (resolved.dead_letter ?? null),
  };
}

/** A cron task: `cron(name, expr, payload?, {priority, timeout, max_retries, retry_interval, tag, tz})`, UTC unless `tz`. */
export function cronTask(registry: HandlerRegistry, name: unknown, cronExpr: string, payload: unknown, options: unknown, now: number): NewTask {
  const def = registry.require(name);
  if (isPlainObject(options) && options.dead_letter !== undefined) {
    throw new ValidationError('dead_letter is not an option of cron(): a cron task whose attempts run out is paused, never permanently failed (docs/behaviour.md#dead-letters)');
  }
  const opts = v.knownOptions(options, CRON_KEYS, 'cron options', 'cron');
  const tz = opts.tz === undefined ? DEFAULT_CRON_TZ : v.nonEmptyString(opts.tz, 'tz');
  const nextRun = nextCronTime(cronExpr, tz, now);
  return topLevel(resolve(def, topLevelPayload(payload), opts, DEFAULT_PRIORITY, 'task'), 'cron', nextRun, cronExpr, tz, opts, now);
}

/**
 * A child from a `next()` definition, resolved against the live registry at creation time
 * (docs/behaviour.md#handlers, #workflows). Its payload is passed through as given; other fields of the definition are ignored.
 */
export function childTask(registry: HandlerRegistry, def: unknown, parent: Task): NewChildTask {
  if (!isPlainObject(def)) throw new ValidationError('Child task definition must be an object');
  if (def.name === undefined || def.name === null || def.name === '') {
    throw new ValidationError('Child task missing required name property');
  }
  const handler = registry.require(def.name, (n) => `No handler registered for child task: ${n}`);
  const child = resolve(handler, def.payload, def, parent.priority, 'child task');
  // docs/behaviour.md#child-failure-rules: the same rule as a flow's children
  if (def.on_failure !== undefined) child.on_failure = v.onFailure(def.on_failure);
  return child;
}

const SCHEDULE_KEYS = [...COMMON_KEYS, 'cron', 'every', 'tz', 'payload'] as const;

/** The defaults of a schedule built without a manager (the CLI): the tables' defaults, as a task enqueued without options gets. */
export function builtInDefaults(name: string): TaskDefaults {
  return { name, priority: undefined, dead_letter: null, timeout: 60, max_retries: 3, retry_interval: 0, retry_backoff: 'fixed', retry_max_interval: null, retry_jitter: 0 };
}

/**
 * A managed schedule's task (docs/behaviour.md#schedules): `schedule(name, key, {cron | every, tz?,
 * payload?, …task options})`. A `cron` task whose unique key (scope `unfinished`) is `key`; an
 * interval is stored as `@every Ns` and has no time zone. The handler need not be registered here
 * (`defaults` are its registration's, or the manager's). Every value is validated, before
 * anything is written; the next run is computed at `now`.
 */
export function scheduleTask(defaults: (name: string) => TaskDefaults, name: unknown, key: unknown, spec: unknown, now: number): NewTask {
  const checkedName = v.taskName(name);
  const checkedKey = v.scheduleKey(key);
  if (!isPlainObject(spec)) throw new ValidationError(`schedule() needs a definition object {cron | every, tz?, payload?, ...options}, got ${v.describe(spec)}`);
  const opts = v.knownOptions(spec, SCHEDULE_KEYS, 'schedule definition', 'schedule');
  if ((opts.cron === undefined) === (opts.every === undefined)) throw new ValidationError('A schedule needs exactly one of cron (an expression) and every (seconds)');
  let expr: string;
  let tz: string | null;
  let nextRun: number;
  if (opts.every !== undefined) {
    if (opts.tz !== undefined) throw new ValidationError('tz is for cron expressions; an every interval runs on a grid of seconds since the Unix epoch');
    const every = opts.every;
    if (typeof every !== 'number' || !Number.isInteger(every) || every < 1 || every > LIMITS.max_every_seconds) {
      throw new ValidationError(`every must be a whole number of seconds from 1 to ${LIMITS.max_every_seconds}, got ${v.describe(every)}`);
    }
    expr = everyExpr(every);
    tz = null;
    nextRun = nextRunTime(expr, 'UTC', now);
  } else {
    if (typeof opts.cron !== 'string') throw new InvalidCronError(String(opts.cron), { detail: 'cron must be a string' });
    expr = opts.cron;
    tz = opts.tz === undefined ? DEFAULT_CRON_TZ : v.nonEmptyString(opts.tz, 'tz');
    nextRun = nextCronTime(expr, tz, now);
  }
  const resolved = resolve(defaults(checkedName), topLevelPayload(opts.payload), opts, DEFAULT_PRIORITY, 'schedule');
  return topLevel(resolved, 'cron', nextRun, expr, tz, { unique_key: checkedKey, unique_scope: 'unfinished' }, now);
}
/** Keys of a flow's task definition (docs/behaviour.md#flows). */
const FLOW_NODE_KEYS = ['name', 'payload', 'options', 'children', 'on_failure'] as const;
/** Options of a flow's child: those of a `next()` child, and `delay` (a task without children). */
const FLOW_CHILD_KEYS = [...COMMON_KEYS, 'dead_letter', 'delay'] as const;

/**
 * A flow from its definition (docs/behaviour.md#flows), every task validated against the live
 * registry and LIMITS before anything is written: the root as `async()` resolves a task (its
 * unique options included, but no debounce or replace, and no `pending` scope for a root with
 * children), each child as a `next()` child (priority falls back to its parent's) with its
 * `on_failure` rule. At most LIMITS.max_flow_tasks tasks and LIMITS.max_flow_depth levels of
 * children; `delay` only on a task without children.
 */
export function flowTask(registry: HandlerRegistry, def: unknown, now: number): NewFlow {
  let count = 0;
  const node = (value: unknown, path: string, depth: number): { name: unknown; payload: unknown; options: Record<string, unknown>; children: unknown[]; on_failure: unknown } => {
    const obj = knownKeysObject(value, FLOW_NODE_KEYS, { notObject: `Flow task ${path} must be an object`, unknownKey: unknownOption(`flow task ${path}`) }, ValidationError);
    if (++count > LIMITS.max_flow_tasks) throw new LimitExceededError('A flow', 'max_flow_tasks', LIMITS.max_flow_tasks, count, 'tasks');
    if (obj.children !== undefined && !Array.isArray(obj.children)) throw new ValidationError(`children of flow task ${path} must be an array`);
    const children = (obj.children as unknown[] | undefined) ?? [];
    if (children.length > 0 && depth >= LIMITS.max_flow_depth) {
      throw new LimitExceededError('A flow', 'max_flow_depth', LIMITS.max_flow_depth, depth + 1, 'levels of children');
    }
    const options = knownKeysObject(obj.options, depth === 0 ? ROOT_KEYS : FLOW_CHILD_KEYS, { notObject: `options of flow task ${path} must be an object`, unknownKey: unknownOption(`flow task ${path}`) }, ValidationError, { optional: true });
    if (children.length > 0 && options.delay !== undefined) {
      throw new ValidationError(`delay of flow task ${path}: a task with children runs when they have finished; give its children the delay`);
    }
    return { name: obj.name, payload: obj.payload, options, children, on_failure: obj.on_failure };
  };
  const root = node(def, 'root', 0);
  if (root.on_failure !== undefined) throw new ValidationError('on_failure is a rule of a flow\'s child for its parent; the root has no parent');
  if (root.options.on_duplicate === 'replace') {
    throw new ValidationError("on_duplicate 'replace' is not for flows: a duplicate flow returns the holder's id ('return') or throws ('error')");
  }
  if (root.children.length > 0 && root.options.unique_scope === 'pending') {
    throw new ValidationError("unique_scope 'pending' cannot hold a flow's root: it is suspended, never pending, until its children finish");
  }
  const task = asyncTask(registry, root.name, root.payload, root.options, now);
  const children = (defs: unknown[], parentPriority: number, path: string, depth: number): NewFlowChild[] =>
    defs.map((value, i) => {
      const at = `${path}.children[${i}]`;
      const child = node(value, at, depth);
      if (child.name === undefined || child.name === null || child.name === '') throw new ValidationError(`Flow task ${at} is missing its name`);
      const handler = registry.require(child.name);
      const resolved = resolve(handler, child.payload, child.options, parentPriority, 'flow task');
      if (child.on_failure !== undefined) resolved.on_failure = v.onFailure(child.on_failure);
      const delay = child.options.delay === undefined ? 0 : v.delaySeconds(child.options.delay);
      return { task: resolved, next_run_time: now + Math.round(delay * 1000), children: children(child.children, resolved.priority, at, depth + 1) };
    });
  return { task, children: children(root.children, task.priority, 'root', 1) };
}

/** Options of a flow's root: `async()`'s, without debounce (a root with children is never pending at stage 0). */
const ROOT_KEYS = ASYNC_KEYS.filter((key) => key !== 'debounce');
