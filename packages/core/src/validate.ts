import { ValidationError, isTaskStatus, type TaskId, type TaskStatus } from '@taskmill/contracts';

/*
 * Argument checks shared by the public methods. Each throws a ValidationError naming the
 * argument, before anything is written.
 */

/** A finite number >= 0 (seconds or ms). */
export function nonNegativeNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ValidationError(`${what} must be a non-negative finite number, got ${describe(value)}`);
  }
  return value;
}

/** A finite number > 0. */
export function positiveNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ValidationError(`${what} must be a positive finite number, got ${describe(value)}`);
  }
  return value;
}

/** An integer >= 0. */
export function nonNegativeInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ValidationError(`${what} must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

/** An integer >= 1. */
export function positiveInteger(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError(`${what} must be a positive integer, got ${describe(value)}`);
  }
  return value;
}

/** Any safe integer (priorities may be negative: higher runs first). */
export function integer(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new ValidationError(`${what} must be an integer, got ${describe(value)}`);
  }
  return value;
}

/** A string that is not empty after trimming. */
export function nonEmptyString(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ValidationError(`${what} must be a non-empty string, got ${describe(value)}`);
  }
  return value;
}

/** Names are stored in VARCHAR(255) columns on MySQL/PostgreSQL. */
export function taskName(value: unknown, what = 'Task name'): string {
  const name = nonEmptyString(value, what);
  if (name.length > 255) throw new ValidationError(`${what} must be at most 255 characters`);
  return name;
}

/** An optional tag: a string of at most 255 characters, or null/undefined. */
export function optionalTag(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw new ValidationError(`tag must be a string, got ${describe(value)}`);
  if (value.length > 255) throw new ValidationError('tag must be at most 255 characters');
  return value;
}

/** A status filter: must be one of the eight statuses. */
export function status(value: unknown): TaskStatus {
  if (!isTaskStatus(value)) throw new ValidationError(`Invalid status value: ${describe(value)}`);
  return value;
}

/**
 * A task id from a caller: a safe positive integer, or a string of digits. Anything else
 * (`'1 OR 1=1'`, NaN, objects) yields null, which finds nothing.
 */
export function parseTaskId(value: unknown): TaskId | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : null;
  if (typeof value === 'string' && /^[1-9][0-9]{0,15}$/.test(value)) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : null;
  }
  return null;
}

/** Reject keys a caller may have meant as options but that do not exist (e.g. `retries`). */
export function knownKeys(obj: object, allowed: readonly string[], what: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      throw new ValidationError(`Unknown ${what} option "${key}"; expected one of: ${allowed.join(', ')}`);
    }
  }
}

/** A plain object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
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
