import { knownKeysObject, LIMITS, parseTaskId, unknownOption, ValidationError, type TaskId } from '@taskmill/contracts';
import { describe } from './validate.js';

/**
 * The checked arguments of `result(id, {timeout})` (docs/behaviour.md#results): a value that
 * cannot be a task id, or a timeout that is not a non-negative number of seconds within
 * `LIMITS.max_duration_seconds`, is a `ValidationError`.
 */
export function resultInput(id: unknown, options: unknown): { id: TaskId; timeout: number | null } {
  const taskId = parseTaskId(id);
  if (taskId === null) throw new ValidationError(`result() needs a task id, got ${describe(id)}`);
  const opts = knownKeysObject(options, ['timeout'], { notObject: 'result options must be an object', unknownKey: unknownOption('result') }, ValidationError, {
    optional: true,
  });
  const timeout = opts.timeout ?? null;
  if (timeout !== null && (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0 || timeout > LIMITS.max_duration_seconds)) {
    throw new ValidationError(`result option timeout must be a number of seconds from 0 to ${LIMITS.max_duration_seconds}, got ${describe(timeout)}`);
  }
  return { id: taskId, timeout: timeout as number | null };
}
