import { TaskTimeoutError, TaskmillError, type FinishOutcome, type Task } from '@taskmill/contracts';
import { nextCronTime } from './cron.js';
import type { HandlerRegistry } from './handler-registry.js';
import { toJsonText } from './serialize.js';
import { SubTasks, Suspension } from './suspension.js';
import { childTask } from './task-options.js';

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
      return { kind: 'spawned', children: value.children.map((def) => childTask(registry, def, task)), context: value.context };
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
