import { LIMITS, ValidationError, assertStorableText, isPlainObject } from '@taskmill/contracts';

/** Options of an explicit suspension (docs/behaviour.md#suspension). */
export interface SuspensionOptions {
  /** Why the task waits; must be non-empty after trimming. */
  reason: string;
  /** Recorded on the `task_suspended` event. */
  metadata?: Record<string, unknown>;
  /** Binary snapshot stored on the task, readable as `task.context` when it resumes. */
  context?: Uint8Array;
}

/** Checks that a context is binary; returns it as a Uint8Array or undefined. */
export function checkContext(context: unknown): Uint8Array | undefined {
  if (context === undefined) return undefined;
  if (!(context instanceof Uint8Array)) throw new ValidationError('Context must be a Buffer or Uint8Array');
  return context;
}

/**
 * Returned by a handler to park its task as `suspended` until `resumeTask()` (human in the
 * loop). Build it with `task.suspend({...})` or `new Suspension({...})`.
 */
/**
 * Suspend reasons whose tasks are woken by the store (docs/behaviour.md#durable-sleep, #signals):
 * only `Sleep` and `SignalWait` may set them, since a plain suspension carries no wake time or
 * signal name and would wait for ever.
 */
const STORE_WOKEN_REASONS = new Set(['sleep', 'signal']);
/** Passed by this module's subclasses that set a reason of {@link STORE_WOKEN_REASONS}. */
const OWN_REASON = Symbol('own suspend reason');

export class Suspension {
  readonly reason: string;
  readonly metadata: Record<string, unknown> | undefined;
  readonly context: Uint8Array | undefined;

  constructor(options: SuspensionOptions, own?: typeof OWN_REASON) {
    if (!isPlainObject(options) || typeof options.reason !== 'string' || options.reason.trim() === '') {
      throw new ValidationError('Suspension requires a non-empty reason');
    }
    if (options.metadata !== undefined && !isPlainObject(options.metadata)) {
      throw new ValidationError('Suspension metadata must be an object');
    }
    const reason = assertStorableText(options.reason.trim(), 'Suspension reason');
    // a VARCHAR(255) column on PostgreSQL
    if (reason.length > LIMITS.max_name_length) throw new ValidationError(`Suspension reason must be at most ${LIMITS.max_name_length} characters`);
    if (own !== OWN_REASON && STORE_WOKEN_REASONS.has(reason)) {
      throw new ValidationError(`Suspension reason '${reason}' is reserved: use task.${reason === 'sleep' ? 'sleep()' : 'waitForSignal()'}`);
    }
    this.reason = reason;
    this.metadata = options.metadata;
    this.context = checkContext(options.context);
  }
}

/**
 * A child definition passed to `next()` (docs/behaviour.md#workflows). Options default to the child handler's, and
 * `priority` then to the parent's; bounds as for `async()` (`LIMITS`).
 */
export interface ChildTaskDefinition<Name extends string = string, Payload = unknown> {
  name: Name;
  /** Stored as given (docs/behaviour.md#workflows): none is `null`. */
  payload?: Payload;
  priority?: number;
  timeout?: number;
  max_retries?: number;
  retry_interval?: number;
  retry_backoff?: 'fixed' | 'exponential';
  retry_max_interval?: number | null;
  retry_jitter?: number;
  tag?: string;
  /** The key of its handler's `max_concurrent_per_key` (docs/behaviour.md#flow-control). */
  concurrency_key?: string;
  /** Where its dead letter goes if it fails for good; null: none (docs/behaviour.md#dead-letters). (Default: its handler's) */
  dead_letter?: string | null;
  /**
   * What its failure for good does to this parent (docs/behaviour.md#child-failure-rules): `fail`
   * the parent at once, `ignore` it, or `continue`. (Default: `continue`)
   */
  on_failure?: 'fail' | 'ignore' | 'continue';
}

/** The marker `next(children, context?)` returns: suspend until every child is final. */
export class SubTasks extends Suspension {
  readonly children: readonly unknown[];

  constructor(children: unknown, context?: unknown) {
    super({ reason: 'awaiting_subtasks', context: checkContext(context) });
    this.children = Array.isArray(children) ? [...children] : [children];
  }
}

/** Options of `task.sleep()` (docs/behaviour.md#durable-sleep). */
export interface SleepOptions {
  /** Binary snapshot stored on the task, readable as `task.context` when it wakes. */
  context?: Uint8Array;
}

/**
 * Returned by a handler to sleep durably (docs/behaviour.md#durable-sleep): the task is
 * `suspended` (`suspend_reason: 'sleep'`), holds no slot, and resumes at `stage + 1` once the
 * duration has passed or the date has come, on the database's clock. Build it with
 * `task.sleep(seconds | Date)`.
 */
export class Sleep extends Suspension {
  /** Seconds from the moment the handler returned, or null when `until` is given. */
  readonly seconds: number | null;
  /** The wake time (ms since the epoch), or null when `seconds` is given. */
  readonly until: number | null;

  constructor(duration: number | Date, options: SleepOptions = {}) {
    if (!isPlainObject(options)) throw new ValidationError('Sleep options must be an object');
    super({ reason: 'sleep', context: checkContext(options.context) }, OWN_REASON);
    if (duration instanceof Date) {
      const time = duration.getTime();
      if (!Number.isFinite(time)) throw new ValidationError('Sleep date must be a valid Date');
      if (time >= LIMITS.max_time_ms) throw new ValidationError('Sleep date must be before year 10000');
      this.seconds = null;
      this.until = time;
    } else {
      if (typeof duration !== 'number' || !Number.isFinite(duration) || duration < 0) {
        throw new ValidationError('Sleep duration must be a finite number of seconds >= 0, or a Date');
      }
      if (duration > LIMITS.max_delay_seconds) throw new ValidationError(`Sleep duration must be at most ${LIMITS.max_delay_seconds} seconds`);
      this.seconds = duration;
      this.until = null;
    }
  }

  /** When the task wakes, given the time the handler returned (database clock). */
  wakeAt(now: number): number {
    return this.until ?? now + Math.round((this.seconds ?? 0) * 1000);
  }
}

/** Checks a signal name (docs/behaviour.md#signals): non-empty, at most 255 characters, storable text. */
export function checkSignalName(name: unknown): string {
  if (typeof name !== 'string' || name === '') throw new ValidationError('Signal name must be a non-empty string');
  const checked = assertStorableText(name, 'Signal name');
  if (checked.length > LIMITS.max_name_length) throw new ValidationError(`Signal name must be at most ${LIMITS.max_name_length} characters`);
  return checked;
}

/** Options of `task.waitForSignal()` (docs/behaviour.md#signals). */
export interface SignalWaitOptions {
  /** Seconds to wait at most; then the task resumes with `received_signal.timed_out`. (Default: no timeout) */
  timeout?: number;
  /** Binary snapshot stored on the task, readable as `task.context` when it resumes. */
  context?: Uint8Array;
}

/**
 * Returned by a handler to wait for a named signal (docs/behaviour.md#signals): the task is
 * `suspended` (`suspend_reason: 'signal'`) until `tm.signal(id, name, data)` or the timeout, and
 * resumes at `stage + 1` with `task.received_signal`. A signal sent earlier and not yet taken by a
 * wait of its name ends the wait at once. Build it with `task.waitForSignal(name, options)`.
 */
export class SignalWait extends Suspension {
  readonly name: string;
  /** Seconds, or null: no timeout. */
  readonly timeout: number | null;

  constructor(name: string, options: SignalWaitOptions = {}) {
    if (!isPlainObject(options)) throw new ValidationError('waitForSignal options must be an object');
    super({ reason: 'signal', context: checkContext(options.context) }, OWN_REASON);
    this.name = checkSignalName(name);
    const timeout = options.timeout;
    if (timeout === undefined) {
      this.timeout = null;
    } else {
      if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0) throw new ValidationError('Signal timeout must be a finite number of seconds >= 0');
      if (timeout > LIMITS.max_delay_seconds) throw new ValidationError(`Signal timeout must be at most ${LIMITS.max_delay_seconds} seconds`);
      this.timeout = timeout;
    }
  }

  /** When the wait times out, given the time the handler returned (database clock), or null. */
  timeoutAt(now: number): number | null {
    return this.timeout === null ? null : now + Math.round(this.timeout * 1000);
  }
}
