import { InvalidArgumentError } from 'commander';
import { parseTaskId, type TaskId } from '@taskmill/contracts';
import { UsageError } from './exit-codes.js';

/*
 * Parsers of option and argument values. They reject a malformed value before anything touches the
 * database, so hostile input (`'1 OR 1=1'`, `--limit -5`) ends with one line and exit code 2.
 */

/** A task id argument: a positive integer, as every store reads ids (`parseTaskId`). */
export function taskIdArgument(value: string): TaskId {
  const id = parseTaskId(value);
  if (id === null) throw new UsageError(`invalid task id ${JSON.stringify(value)}: expected a positive integer`);
  return id;
}

/** A commander parser for a positive integer option (`--limit`, `--root`). */
export function positiveInteger(value: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('expected a positive integer.');
  }
  return Number(value);
}

/** A commander parser for a positive number of seconds, fractions allowed (`--expire-time`). */
export function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value) || !(n > 0) || !Number.isFinite(n)) {
    throw new InvalidArgumentError('expected a positive number of seconds.');
  }
  return n;
}

/** A commander parser for a non-negative integer option (`--offset`). */
export function nonNegativeInteger(value: string): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('expected a non-negative integer.');
  }
  return Number(value);
}

/** Longest live refresh interval of the dashboard, in seconds (its `refreshSeconds` bound). */
export const MAX_REFRESH_SECONDS = 3600;

/** A commander parser for the dashboard's `--refresh`: whole seconds from 0 (no live updates) to an hour. */
export function refreshSeconds(value: string): number {
  if (!/^(0|[1-9][0-9]{0,3})$/.test(value) || Number(value) > MAX_REFRESH_SECONDS) {
    throw new InvalidArgumentError(`expected whole seconds from 0 (no live updates) to ${MAX_REFRESH_SECONDS}.`);
  }
  return Number(value);
}

/**
 * A commander parser for an ISO 8601 time (`--created-before`): a date, or a date and time with an
 * optional zone (no zone: UTC for a date alone, local time otherwise, as `Date.parse` reads it);
 * ms since the epoch.
 */
export function isoTime(value: string): number {
  const match = /^(\d{4})-(\d{2})-(\d{2})([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.exec(value);
  const ms = match ? Date.parse(value) : Number.NaN;
  // Date.parse reads 2026-02-30 as March 2: a day the month does not have is refused
  const [y, m, d] = match ? [Number(match[1]), Number(match[2]), Number(match[3])] : [0, 0, 0];
  const real = new Date(Date.UTC(y, m - 1, d));
  if (!Number.isFinite(ms) || real.getUTCMonth() !== m - 1 || real.getUTCDate() !== d) throw new InvalidArgumentError('expected an ISO 8601 time such as 2026-12-06 or 2026-12-06T09:00:00Z.');
  return ms;
}
