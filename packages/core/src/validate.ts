import {
  CHILD_FAILURE_RULES,
  LIMITS,
  LimitExceededError,
  TaskNotFoundError,
  assertStorableText,
  utf8Bytes,
  ValidationError,
  knownKeysObject,
  isPlainObject,
  parseTaskId,
  unknownOption,
  type ChildFailureRule,
  type RetryBackoff,
  type TaskId,
  type TaskmillError,
} from '@taskmill/contracts';

/*
 * Argument checks shared by the public methods. Each throws a typed error naming the argument,
 * before anything is written. Every number a caller passes has a documented upper bound
 * (LIMITS, from contracts), the same on every store.
 */

/** The error a check throws: ValidationError for method arguments, ConfigurationError for constructor options. */
export type ErrorClass = new (message: string) => TaskmillError;

interface Range {
  /** Inclusive lower bound; with `above` the bound itself is excluded. */
  min: number;
  max: number;
  above?: boolean;
  integer?: boolean;
  unit?: string;
}

function inRange(value: unknown, what: string, r: Range, Err: ErrorClass): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!r.integer || Number.isSafeInteger(value)) &&
    (r.above ? value > r.min : value >= r.min) &&
    value <= r.max;
  if (!ok) throw new Err(`${what} must be ${rangeText(r)}, got ${describe(value)}`);
  return value as number;
}

/** `a non-negative number of seconds, at most 31622400`, `an integer from -2147483648 to 2147483647`… */
function rangeText(r: Range): string {
  const kind = r.integer ? 'integer' : `number${r.unit ? ` of ${r.unit}` : ''}`;
  const atMost = r.max === Number.MAX_SAFE_INTEGER ? '' : `, at most ${r.max}`;
  if (r.min === 0 && r.above) return `a positive ${kind}${atMost}`;
  if (r.min === 0) return `a non-negative ${kind}${atMost}`;
  if (r.min === 1 && r.integer) return `a positive integer${atMost}`;
  return `${r.integer ? 'an' : 'a'} ${kind} from ${r.min} to ${r.max}`;
}

/** A priority: a 32-bit integer (LIMITS.priority), negative allowed; higher runs first. */
export function priority(value: unknown, what = 'priority', Err: ErrorClass = ValidationError): number {
  return inRange(value, what, { ...LIMITS.priority, integer: true }, Err);
}

/** Total attempts, the first included: 0 to LIMITS.max_retries. */
export function maxRetries(value: unknown, what = 'max_retries', Err: ErrorClass = ValidationError): number {
  return inRange(value, what, { min: 0, max: LIMITS.max_retries, integer: true }, Err);
}

/** A per-attempt timeout in seconds: above 0, at most LIMITS.max_duration_seconds. */
export function timeoutSeconds(value: unknown, what = 'timeout', Err: ErrorClass = ValidationError): number {
  return inRange(value, what, { min: 0, above: true, max: LIMITS.max_duration_seconds, unit: 'seconds' }, Err);
}

/** Seconds between a failure and its retry: 0 to LIMITS.max_duration_seconds. */
export function retryIntervalSeconds(value: unknown, what = 'retry_interval', Err: ErrorClass = ValidationError): number {
  return inRange(value, what, { min: 0, max: LIMITS.max_duration_seconds, unit: 'seconds' }, Err);
}

/** A retry backoff strategy: `fixed` or `exponential`. */
export function retryBackoff(value: unknown, what = 'retry_backoff', Err: ErrorClass = ValidationError): RetryBackoff {
  if (value !== 'fixed' && value !== 'exponential') throw new Err(`${what} must be "fixed" or "exponential", got ${describe(value)}`);
  return value;
}

/** The longest wait before a retry, in seconds (above 0, at most LIMITS.max_duration_seconds), or null for none. */
export function retryMaxInterval(value: unknown, what = 'retry_max_interval', Err: ErrorClass = ValidationError): number | null {
  if (value === null) return null;
  return inRange(value, what, { min: 0, above: true, max: LIMITS.max_duration_seconds, unit: 'seconds' }, Err);
}

/** The randomised fraction of a retry wait: 0 to 1. */
export function retryJitter(value: unknown, what = 'retry_jitter', Err: ErrorClass = ValidationError): number {
  return inRange(value, what, { min: 0, max: 1 }, Err);
}

/** Seconds before a task becomes due: 0 to LIMITS.max_delay_seconds. */
export function delaySeconds(value: unknown, what = 'delay'): number {
  return inRange(value, what, { min: 0, max: LIMITS.max_delay_seconds, unit: 'seconds' }, ValidationError);
}

/** A millisecond interval of the manager: at most LIMITS.max_interval_ms (what setTimeout can hold). */
export function intervalMs(value: unknown, what: string, allowZero: boolean, Err: ErrorClass): number {
  return inRange(value, what, { min: 0, above: !allowZero, max: LIMITS.max_interval_ms, unit: 'ms' }, Err);
}

/** An integer >= 1. */
export function positiveInteger(value: unknown, what: string, Err: ErrorClass = ValidationError): number {
  return inRange(value, what, { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true }, Err);
}

/** How many claimed tasks a worker may hold before a slot frees: 0 to LIMITS.max_prefetch_tasks. */
export function prefetchTasks(value: unknown, what = 'prefetch_tasks', Err: ErrorClass = ValidationError): number {
  return inRange(value, what, { min: 0, max: LIMITS.max_prefetch_tasks, integer: true }, Err);
}

/** A string that is not empty after trimming, and that every store can hold (no NUL, no lone surrogate). */
export function nonEmptyString(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ValidationError(`${what} must be a non-empty string, got ${describe(value)}`);
  }
  return assertStorableText(value, what);
}

/** Free text (progress text, messages, reasons): at most LIMITS.max_text_bytes of UTF-8. */
export function freeText(value: string, what: string): string {
  // at most 3 UTF-8 bytes per UTF-16 unit: short strings need no count
  if (value.length * 3 > LIMITS.max_text_bytes) {
    const bytes = utf8Bytes(value);
    if (bytes > LIMITS.max_text_bytes) throw new LimitExceededError(what, 'max_text_bytes', LIMITS.max_text_bytes, bytes, 'bytes');
  }
  return value;
}

/** Names are stored in VARCHAR(255) columns on MySQL/PostgreSQL (LIMITS.max_name_length). */
export function taskName(value: unknown, what = 'Task name'): string {
  const name = nonEmptyString(value, what);
  if (name.length > LIMITS.max_name_length) throw new ValidationError(`${what} must be at most ${LIMITS.max_name_length} characters`);
  return name;
}

/**
 * A `dead_letter` target (docs/behaviour.md#dead-letters): a task name (the rules of {@link taskName}),
 * not `own` (a task dead-lettering into its own name would loop), or null for none.
 */
export function deadLetter(value: unknown, own: string, what = 'dead_letter'): string | null {
  if (value === null) return null;
  if (typeof value !== 'string') throw new ValidationError(`${what} must be a task name (a string) or null, got ${describe(value)}`);
  const name = assertStorableText(taskName(value, what), what);
  if (name === own) throw new ValidationError(`${what} must name another task than ${JSON.stringify(own)} itself (its failures would loop)`);
  return name;
}

/** An optional tag: a string of at most 255 characters, or null/undefined. */
export function optionalTag(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new ValidationError(`tag must be a string, got ${describe(value)}`);
  if (value.length > LIMITS.max_name_length) throw new ValidationError(`tag must be at most ${LIMITS.max_name_length} characters`);
  return assertStorableText(value, 'tag');
}

/** A `concurrency_key`: a non-empty string of at most 255 characters (VARCHAR(255) columns). */
export function concurrencyKey(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new ValidationError(`concurrency_key must be a non-empty string, got ${describe(value)}`);
  if (value.length > LIMITS.max_name_length) throw new ValidationError(`concurrency_key must be at most ${LIMITS.max_name_length} characters`);
  return assertStorableText(value, 'concurrency_key');
}

/**
 * A handler's `rate_limit` (docs/behaviour.md#flow-control): `{ max, per }`, at most `max` (a
 * positive integer up to LIMITS.max_rate_starts) starts in any window of `per` seconds (above 0,
 * at most LIMITS.max_duration_seconds, whole milliseconds); as the claim request takes it.
 */
export function rateLimit(value: unknown, what: string, Err: ErrorClass = ValidationError): { max: number; per_ms: number } {
  if (!isPlainObject(value)) throw new Err(`${what} must be an object { max, per }, got ${describe(value)}`);
  for (const key of Object.keys(value)) if (key !== 'max' && key !== 'per') throw new Err(`Unknown key "${key}" in ${what}; expected max, per`);
  const max = inRange(value.max, `${what}.max`, { min: 1, max: LIMITS.max_rate_starts, integer: true }, Err);
  const per = inRange(value.per, `${what}.per`, { min: 0, above: true, max: LIMITS.max_duration_seconds, unit: 'seconds' }, Err);
  const perMs = Math.round(per * 1000);
  if (perMs < 1) throw new Err(`${what}.per must be at least 0.001 seconds, got ${describe(value.per)}`);
  return { max, per_ms: perMs };
}

/** A `unique_key`: a non-empty string of at most 255 characters (VARCHAR(255) columns). */
export function uniqueKey(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new ValidationError(`unique_key must be a non-empty string, got ${describe(value)}`);
  if (value.length > LIMITS.max_name_length) throw new ValidationError(`unique_key must be at most ${LIMITS.max_name_length} characters`);
  return assertStorableText(value, 'unique_key');
}

/** A schedule's key: a non-empty string of at most `LIMITS.max_name_length` characters (docs/behaviour.md#schedules). */
export function scheduleKey(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new ValidationError(`A schedule key must be a non-empty string, got ${describe(value)}`);
  if (value.length > LIMITS.max_name_length) throw new ValidationError(`A schedule key must be at most ${LIMITS.max_name_length} characters`);
  return assertStorableText(value, 'schedule key');
}

const UNIQUE_SCOPES = ['pending', 'unfinished', 'period'] as const;

/** A `unique_scope`: `pending`, `unfinished` or `period`. */
export function uniqueScope(value: unknown): (typeof UNIQUE_SCOPES)[number] {
  if (!UNIQUE_SCOPES.includes(value as never)) throw new ValidationError(`unique_scope must be one of ${UNIQUE_SCOPES.join(', ')}, got ${describe(value)}`);
  return value as (typeof UNIQUE_SCOPES)[number];
}

/** `unique_period` of a `period` scope: seconds above 0, at most LIMITS.max_delay_seconds. */
export function uniquePeriodSeconds(value: unknown): number {
  if (value === undefined) throw new ValidationError("unique_scope 'period' needs unique_period (seconds)");
  return inRange(value, 'unique_period', { min: 0, above: true, max: LIMITS.max_delay_seconds, unit: 'seconds' }, ValidationError);
}

const ON_DUPLICATE = ['return', 'error', 'replace'] as const;

/** `on_duplicate`: `return` (the holder's id), `error` (DuplicateTaskError) or `replace` (the pending holder's payload). */
export function onDuplicate(value: unknown): (typeof ON_DUPLICATE)[number] {
  if (!ON_DUPLICATE.includes(value as never)) throw new ValidationError(`on_duplicate must be one of ${ON_DUPLICATE.join(', ')}, got ${describe(value)}`);
  return value as (typeof ON_DUPLICATE)[number];
}

/**
 * An options argument of a method: undefined/null mean none; anything but a plain object is a
 * ValidationError (`<subject> must be an object`), and so is a key a caller may have meant as an
 * option but that does not exist, e.g. `retries` (`Unknown <method> option "retries"; …`).
 */
export function knownOptions(value: unknown, allowed: readonly string[], subject: string, method: string): Record<string, unknown> {
  return knownKeysObject(value, allowed, { notObject: `${subject} must be an object`, unknownKey: unknownOption(method) }, ValidationError, { optional: true });
}


/** A child's rule for its failure for good (docs/behaviour.md#child-failure-rules): one of CHILD_FAILURE_RULES. */
export function onFailure(value: unknown): ChildFailureRule {
  if (!CHILD_FAILURE_RULES.includes(value as never)) {
    throw new ValidationError(`on_failure must be one of ${CHILD_FAILURE_RULES.join(', ')}, got ${describe(value)}`);
  }
  return value as ChildFailureRule;
}

/** Short description of a value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** A task id for a control method: one that cannot exist is a TaskNotFoundError. */
export function requireId(id: unknown): TaskId {
  const taskId = parseTaskId(id);
  if (taskId === null) throw new TaskNotFoundError(id);
  return taskId;
}

/** The optional trimmed reason of `resumeTask`/`cancelTask`. */
export function reasonOption(options: unknown, key: string, method: string): string | undefined {
  const opts = knownOptions(options, [key], `${method} options`, method);
  return opts[key] === undefined ? undefined : freeText(nonEmptyString(opts[key], key).trim(), key);
}
