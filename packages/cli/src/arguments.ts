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
