import { LIMITS, ValidationError } from '@taskmill/contracts';

/** A plain object (not null, not an array, not a class instance). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** An optional positive duration in ms, at most what setTimeout can hold (LIMITS.max_interval_ms). */
export function positiveMs(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > LIMITS.max_interval_ms) {
    throw new ValidationError(`retention ${what} must be a positive number of ms, at most ${LIMITS.max_interval_ms}`);
  }
  return value;
}
