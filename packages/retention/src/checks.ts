import { LIMITS, ValidationError } from '@taskmill/contracts';

/** An optional positive duration in ms, at most what setTimeout can hold (LIMITS.max_interval_ms). */
export function positiveMs(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > LIMITS.max_interval_ms) {
    throw new ValidationError(`retention ${what} must be a positive number of ms, at most ${LIMITS.max_interval_ms}`);
  }
  return value;
}
