import { TaskTimeoutError, TaskmillError, type FinishOutcome, type NewChildTask, type Task } from '@taskmill/contracts';
import { nextCronTime } from './cron.js';
import type { HandlerRegistry } from './handler-registry.js';
import { toJsonText } from './serialize.js';
import { SubTasks, Suspension } from './suspension.js';
import { integer, isPlainObject, nonNegativeInteger, nonNegativeNumber, optionalTag, positiveNumber } from './validate.js';

/** Text stored as a failed attempt's `error`: the stack (first line `Error: message`), as the reference. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/** The outcome of an attempt whose handler threw. */
export function failureOutcome(error: unknown, checkTimedOut: boolean): FinishOutcome {
  if (checkTimedOut || error instanceof TaskTimeoutError) {
    return { kind: 'failed', status: 'timeout', error: errorText(error), timeout_type: 'check' };
  }
  return { kind: 'failed', status: 'failed', error: errorText(error) };
}

/**
 * Turn what a handler returned into the outcome to persist (SPEC B3.1). Anything that cannot be
 * stored (an unserialisable result, a bad child definition) fails the attempt with a clear error
 * instead of writing half of it.
 */
export function outcomeOf(value: unknown, task: Task, registry: HandlerRegistry, now: number): FinishOutcome {
  try {
    if (value instanceof SubTasks) {
      return { kind: 'spawned', children: value.children.map((def) => childOf(def, task, registry)), context: value.context };
    }
    if (value instanceof Suspension) {
      if (value.metadata) toJsonText(value.metadata, 'Suspension metadata');
      return { kind: 'suspended', reason: value.reason, metadata: value.metadata ?? null, context: value.context };
    }
    const result = toJsonText(value, `Result of task ${task.id} (${task.name})`);
    if (task.type === 'cron') {
      return { kind: 'rescheduled', result, next_run_time: nextCronTime(task.cron_expr ?? '', task.cron_tz ?? 'UTC', now) };
    }
    return { kind: 'completed', result };
  } catch (error) {
    const message = error instanceof TaskmillError ? `${error.name}: ${error.message}` : errorText(error);
    return { kind: 'failed', status: 'failed', error: message };
  }
}

/** Resolve a child definition against the live registry at creation time (SPEC B2.2, B4.1). */
function childOf(def: unknown, parent: Task, registry: HandlerRegistry): NewChildTask {
  if (!isPlainObject(def)) throw new TaskmillError('TASKMILL_VALIDATION', 'Child task definition must be an object');
  if (def.name === undefined || def.name === null || def.name === '') {
    throw new TaskmillError('TASKMILL_VALIDATION', 'Child task missing required name property');
  }
  const handler = registry.require(def.name, (n) => `No handler registered for child task: ${n}`);
  return {
    name: handler.name,
    payload: toJsonText(def.payload, `Payload of child task ${handler.name}`),
    priority: def.priority !== undefined ? integer(def.priority, 'priority') : (handler.priority ?? parent.priority),
    tag: optionalTag(def.tag),
    timeout: def.timeout !== undefined ? positiveNumber(def.timeout, 'timeout') : handler.timeout,
    max_retries: def.max_retries !== undefined ? nonNegativeInteger(def.max_retries, 'max_retries') : handler.max_retries,
    retry_interval: def.retry_interval !== undefined ? nonNegativeNumber(def.retry_interval, 'retry_interval') : handler.retry_interval,
  };
}
