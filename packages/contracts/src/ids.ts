import type { TaskId } from './records.js';

/**
 * The one reading of a caller's task id, used by core and every store: a safe positive integer,
 * or a string of decimal digits naming one. Anything else (`'1 OR 1=1'`, 0, -1, 1.5, NaN, a value
 * beyond 2^53, objects) yields null, which finds nothing.
 */
export function parseTaskId(value: unknown): TaskId | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : null;
  if (typeof value === 'string' && /^[1-9][0-9]{0,15}$/.test(value)) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : null;
  }
  return null;
}
