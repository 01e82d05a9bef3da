import { HandlerNotFoundError, InvalidHandlerError, ValidationError, isPlainObject, knownKeysObject } from '@taskmill/contracts';
import type { ResolvedOptions } from './manager-options.js';
import type { FlowLimits, RateLimit, RetryBackoff } from '@taskmill/contracts';
import type { TaskHandler } from './types.js';
import { IsolatePool } from './isolate-pool.js';
import { isolateOption, moduleUrl } from './isolate-options.js';
import {
  maxRetries,
  positiveInteger,
  rateLimit,
  priority,
  retryBackoff,
  retryIntervalSeconds,
  retryJitter,
  retryMaxInterval,
  taskName,
  timeoutSeconds,
  deadLetter,
} from './validate.js';

/** What a new task takes from its handler's registration when the task does not say. */
export type TaskDefaults = Pick<
  HandlerDefinition,
  'name' | 'timeout' | 'max_retries' | 'retry_interval' | 'retry_backoff' | 'retry_max_interval' | 'retry_jitter' | 'priority' | 'dead_letter'
>;

/** A registered handler with its defaults, frozen at registration (docs/behaviour.md#handlers). */
export interface HandlerDefinition {
  name: string;
  handler: TaskHandler<any, any>;
  timeout: number;
  max_retries: number;
  retry_interval: number;
  retry_backoff: RetryBackoff;
  retry_max_interval: number | null;
  retry_jitter: number;
  /** Undefined when the registration gave none (children then inherit the parent's). */
  priority: number | undefined;
  max_concurrent_tasks: number | undefined;
  /** Running tasks of this name allowed across every worker sharing the database; undefined: no limit. */
  cluster_max_concurrent_tasks: number | undefined;
  /** Starts of this name allowed in any window, across every worker; undefined: no limit. */
  rate_limit: RateLimit | undefined;
  /** Running tasks of this name with one `concurrency_key` allowed across every worker; undefined: no limit. */
  max_concurrent_per_key: number | undefined;
  description: string;
  /** Set for `{module, isolate}` registrations: the worker threads its attempts run in (docs/behaviour.md#isolated-handlers). */
  isolated: IsolatePool | undefined;
  /** Where its tasks' dead letters go (docs/behaviour.md#dead-letters); null: none. */
  dead_letter: string | null;
}

type Defaults = Pick<ResolvedOptions, 'timeout' | 'max_retries' | 'retry_interval' | 'retry_backoff' | 'retry_max_interval' | 'retry_jitter'>;

const CONFIG_KEYS = [
  'handler',
  'module',
  'isolate',
  'timeout',
  'max_retries',
  'retry_interval',
  'retry_backoff',
  'retry_max_interval',
  'retry_jitter',
  'priority',
  'max_concurrent_tasks',
  'cluster_max_concurrent_tasks',
  'rate_limit',
  'max_concurrent_per_key',
  'description',
  'dead_letter',
];

/** The `handler` of an isolated definition: the claim loop runs its pool instead (see ClaimLoop.execute). */
function isolatedOnly(): never {
  throw new Error('An isolated handler runs in its worker thread, never in-process');
}

/**
 * Handler registry with hot reload: re-registering replaces the definition for future claims;
 * the per-type running counter lives outside the definition so it survives reloads.
 */
export class HandlerRegistry {
  private readonly defs = new Map<string, HandlerDefinition>();
  private readonly running = new Map<string, number>();

  private readonly defaults: Defaults;
  /** The manager's `max_concurrent_tasks`: the idle threads an isolated handler without its own cap keeps. */
  private readonly maxConcurrent: number;
  private readonly onError: ResolvedOptions['onError'];

  constructor(options: Defaults & Pick<ResolvedOptions, 'max_concurrent_tasks' | 'onError'>) {
    const { timeout, max_retries, retry_interval, retry_backoff, retry_max_interval, retry_jitter } = options;
    this.defaults = { timeout, max_retries, retry_interval, retry_backoff, retry_max_interval, retry_jitter };
    this.maxConcurrent = options.max_concurrent_tasks;
    this.onError = options.onError;
  }

  /** Register or replace a handler. */
  set(name: unknown, handlerOrConfig: unknown): void {
    const taskNameValue = taskName(name);
    this.replace(taskNameValue, this.define(taskNameValue, handlerOrConfig));
  }

  /** Put a definition in place; the threads of the one it replaces end once their attempts do. */
  private replace(name: string, def: HandlerDefinition): void {
    this.defs.get(name)?.isolated?.retire();
    this.defs.set(name, def);
  }

  /** End the threads of every isolated handler (the manager stopped). */
  async closeIsolates(): Promise<void> {
    await Promise.all([...this.defs.values()].map((def) => def.isolated?.close()));
  }

  private define(name: string, value: unknown): HandlerDefinition {
    if (typeof value === 'function') {
      return {
        name,
        handler: value as TaskHandler,
        ...this.defaults,
        priority: undefined,
        max_concurrent_tasks: undefined,
        cluster_max_concurrent_tasks: undefined,
        rate_limit: undefined,
        max_concurrent_per_key: undefined,
        description: '',
        isolated: undefined,
        dead_letter: null,
      };
    }
    const withModule = isPlainObject(value) && Object.hasOwn(value, 'module') && value.module !== undefined;
    if (!isPlainObject(value) || (typeof value.handler !== 'function' && !withModule)) {
      // fib-flow's message, kept word for word (docs/behaviour.md#handlers), with the isolated form named after it
      throw new InvalidHandlerError(`Handler must be a function or an object with handler property (or module, for an isolated handler) (task: ${name})`);
    }
    if (withModule && value.handler !== undefined) {
      throw new InvalidHandlerError(`Handler of task ${name} gives both handler and module: an isolated handler is the module's export, give one of them`);
    }
    if (!withModule && value.isolate !== undefined) {
      throw new InvalidHandlerError(`isolate of task ${name} needs module: a function passed as handler runs in-process; give the module that exports it instead`);
    }
    if (Object.hasOwn(value, 'parameters') || Object.hasOwn(value, 'output')) {
      throw new InvalidHandlerError(`Handler schema is no longer supported for task: ${name}`);
    }
    knownKeysObject(
      value,
      CONFIG_KEYS,
      {
        notObject: `Handler must be a function or an object with handler property (task: ${name})`,
        unknownKey: (key, allowed) => `Unknown handler option "${key}" for task: ${name}; expected one of: ${allowed.join(', ')}`,
      },
      InvalidHandlerError,
    );
    if (value.description !== undefined && typeof value.description !== 'string') {
      throw new ValidationError(`description must be a string (task: ${name})`);
    }
    const module = withModule ? moduleUrl(value.module, `module of ${name}`) : undefined;
    if (withModule) isolateOption(value.isolate, `isolate of ${name}`);
    const max_concurrent_tasks =
      value.max_concurrent_tasks === undefined ? undefined : positiveInteger(value.max_concurrent_tasks, `max_concurrent_tasks of ${name}`);
    const def: HandlerDefinition = {
      name,
      handler: module === undefined ? (value.handler as TaskHandler) : isolatedOnly,
      timeout: value.timeout === undefined ? this.defaults.timeout : timeoutSeconds(value.timeout, `timeout of ${name}`),
      max_retries: value.max_retries === undefined ? this.defaults.max_retries : maxRetries(value.max_retries, `max_retries of ${name}`),
      retry_interval:
        value.retry_interval === undefined ? this.defaults.retry_interval : retryIntervalSeconds(value.retry_interval, `retry_interval of ${name}`),
      retry_backoff: value.retry_backoff === undefined ? this.defaults.retry_backoff : retryBackoff(value.retry_backoff, `retry_backoff of ${name}`),
      retry_max_interval:
        value.retry_max_interval === undefined
          ? this.defaults.retry_max_interval
          : retryMaxInterval(value.retry_max_interval, `retry_max_interval of ${name}`),
      retry_jitter: value.retry_jitter === undefined ? this.defaults.retry_jitter : retryJitter(value.retry_jitter, `retry_jitter of ${name}`),
      priority: value.priority === undefined ? undefined : priority(value.priority, `priority of ${name}`),
      max_concurrent_tasks,
      cluster_max_concurrent_tasks:
        value.cluster_max_concurrent_tasks === undefined
          ? undefined
          : positiveInteger(value.cluster_max_concurrent_tasks, `cluster_max_concurrent_tasks of ${name}`),
      rate_limit: value.rate_limit === undefined ? undefined : rateLimit(value.rate_limit, `rate_limit of ${name}`),
      max_concurrent_per_key:
        value.max_concurrent_per_key === undefined ? undefined : positiveInteger(value.max_concurrent_per_key, `max_concurrent_per_key of ${name}`),
      description: (value.description as string | undefined) ?? '',
      isolated: undefined,
      dead_letter: value.dead_letter === undefined ? null : deadLetter(value.dead_letter, name, `dead_letter of ${name}`),
    };
    // last, once every option is valid: a refused registration starts no thread and holds no pool
    if (module !== undefined) def.isolated = new IsolatePool(module, max_concurrent_tasks ?? this.maxConcurrent, this.onError);
    return def;
  }

  /** Register or replace several handlers: all are validated first, so a bad entry registers none. */
  setAll(handlers: Record<string, unknown>): void {
    const defs = Object.entries(handlers).map(([name, value]) => {
      const taskNameValue = taskName(name);
      return [taskNameValue, this.define(taskNameValue, value)] as const;
    });
    for (const [name, def] of defs) this.replace(name, def);
  }

  /** Remove a handler; true if one was registered. */
  delete(name: string): boolean {
    this.defs.get(name)?.isolated?.retire();
    return this.defs.delete(name);
  }

  /** The live definition, or undefined. */
  /**
   * The defaults a task of `name` takes: its registration's, else the manager's (a schedule may
   * name a handler this process does not run; docs/behaviour.md#schedules).
   */
  defaultsFor(name: string): TaskDefaults {
    return this.defs.get(name) ?? { name, priority: undefined, dead_letter: null, ...this.defaults };
  }

  get(name: string): HandlerDefinition | undefined {
    return this.defs.get(name);
  }

  /** The live definition, or HandlerNotFoundError. */
  require(name: unknown, message?: (n: string) => string): HandlerDefinition {
    const def = typeof name === 'string' ? this.defs.get(name) : undefined;
    if (!def) throw new HandlerNotFoundError(String(name), message?.(String(name)));
    return def;
  }

  /**
   * What this process may claim now: the names, per-name caps for types with free per-type slots,
   * the cluster-wide, rate and per-key limits of the types that have one (each undefined when none
   * has), and the definitions as they are at this moment. A claimed task runs with the definition
   * taken here, so a handler unregistered while the claim is under way still runs what it claimed.
   */
  claimable(): {
    names: string[];
    name_limits: Record<string, number>;
    cluster_limits: Record<string, number> | undefined;
    rate_limits: Record<string, RateLimit> | undefined;
    key_limits: Record<string, number> | undefined;
    defs: ReadonlyMap<string, HandlerDefinition>;
  } {
    const names: string[] = [];
    const name_limits: Record<string, number> = {};
    let cluster_limits: Record<string, number> | undefined;
    let rate_limits: Record<string, RateLimit> | undefined;
    let key_limits: Record<string, number> | undefined;
    for (const def of this.defs.values()) {
      if (def.cluster_max_concurrent_tasks !== undefined) (cluster_limits ??= {})[def.name] = def.cluster_max_concurrent_tasks;
      if (def.rate_limit !== undefined) (rate_limits ??= {})[def.name] = def.rate_limit;
      if (def.max_concurrent_per_key !== undefined) (key_limits ??= {})[def.name] = def.max_concurrent_per_key;
      if (def.max_concurrent_tasks === undefined) {
        names.push(def.name);
        continue;
      }
      const free = def.max_concurrent_tasks - (this.running.get(def.name) ?? 0);
      if (free > 0) {
        names.push(def.name);
        name_limits[def.name] = free;
      }
    }
    return { names, name_limits, cluster_limits, rate_limits, key_limits, defs: new Map(this.defs) };
  }

  /**
   * The cluster-wide limits of the registered types that have one, as a worker publishes them in
   * its registry row (`meta.flow_limits`) for operators: the CLI's `status` and the dashboard read
   * them to show which names are limited and how many of their tasks wait. Undefined when none has.
   */
  flowLimits(): Record<string, FlowLimits> | undefined {
    let out: Record<string, FlowLimits> | undefined;
    for (const def of this.defs.values()) {
      const limits: FlowLimits = {};
      if (def.rate_limit !== undefined) limits.rate_limit = { max: def.rate_limit.max, per: def.rate_limit.per_ms / 1000 };
      if (def.max_concurrent_per_key !== undefined) limits.max_concurrent_per_key = def.max_concurrent_per_key;
      if (def.cluster_max_concurrent_tasks !== undefined) limits.cluster_max_concurrent_tasks = def.cluster_max_concurrent_tasks;
      if (Object.keys(limits).length > 0) (out ??= {})[def.name] = limits;
    }
    return out;
  }

  /** Count a handler run of this type starting (+1) or ending (-1). */
  track(name: string, delta: 1 | -1): void {
    const next = (this.running.get(name) ?? 0) + delta;
    if (next <= 0) this.running.delete(name);
    else this.running.set(name, next);
  }
}
