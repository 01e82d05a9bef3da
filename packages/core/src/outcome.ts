import { LIMITS, TaskTimeoutError, TaskmillError, isPermanentError, utf8Bytes, type FinishOutcome, type Task } from '@taskmill/contracts';
import { nextRunTime } from './cron.js';
import type { HandlerRegistry } from './handler-registry.js';
import { toJsonText } from './serialize.js';
import { SignalWait, Sleep, SubTasks, Suspension } from './suspension.js';
import { childTask } from './task-options.js';

/** Text stored as a failed attempt's `error`: the stack (first line `Error: message`), as fib-flow stores it (docs/behaviour.md#handlers). */
export function errorText(error: unknown): string {
  return storableError(rawErrorText(error));
}

function rawErrorText(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

// NULs (PostgreSQL text cannot hold them) and lone surrogates (drivers encode them as U+FFFD)
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** Room kept for the `[truncated: …]` marker. */
const MARKER_ROOM = 64;

/**
 * An error text every store holds unchanged: NULs and lone surrogates become U+FFFD, and a text
 * beyond LIMITS.max_error_bytes is cut (at a character boundary) and ends with
 * `… [truncated: N more bytes]`. A handler's error is recorded, never refused for its size.
 */
export function storableError(text: string): string {
  const clean = text.replace(UNSTORABLE, '\ufffd');
  const total = utf8Bytes(clean);
  if (total <= LIMITS.max_error_bytes) return clean;
  const budget = LIMITS.max_error_bytes - MARKER_ROOM;
  let kept = 0;
  let end = 0;
  while (end < clean.length) {
    const pair = (clean.charCodeAt(end) & 0xfc00) === 0xd800;
    const size = utf8Bytes(clean.slice(end, end + (pair ? 2 : 1)));
    if (kept + size > budget) break;
    kept += size;
    end += pair ? 2 : 1;
  }
  return `${clean.slice(0, end)}\n… [truncated: ${total - kept} more bytes]`;
}

const PERMANENT_PREFIX = 'PermanentError: ';

/**
 * A non-retryable failure's text always starts with `PermanentError: ` (docs/behaviour.md#non-retryable-failures),
 * so attempts and tasks that failed that way are found by their error, also when the error only
 * carried the code (a copy of the class from another install, one that crossed a process).
 */
function permanentErrorText(error: unknown): string {
  const text = errorText(error);
  return text.startsWith(PERMANENT_PREFIX) ? text : storableError(`${PERMANENT_PREFIX}${text}`);
}

/** The outcome of an attempt whose handler threw (a `PermanentError`: not retried). */
export function failureOutcome(error: unknown, checkTimedOut: boolean): FinishOutcome {
  if (checkTimedOut || error instanceof TaskTimeoutError) {
    return { kind: 'failed', status: 'timeout', error: errorText(error), timeout_type: 'check' };
  }
  if (isPermanentError(error)) return { kind: 'failed', status: 'failed', error: permanentErrorText(error), permanent: true };
  return { kind: 'failed', status: 'failed', error: errorText(error) };
}

/**
 * Turn what a handler returned into the outcome to persist (docs/behaviour.md#handlers). Anything that cannot be
 * stored (an unserialisable result, a bad child definition) fails the attempt with a clear error
 * instead of writing half of it.
 */
export function outcomeOf(value: unknown, task: Task, registry: HandlerRegistry, now: number): FinishOutcome {
  try {
    if (value instanceof SubTasks) {
      return { kind: 'spawned', children: value.children.map((def) => childTask(registry, def, task)), context: value.context };
    }
    if (value instanceof Sleep) return { kind: 'sleep', wake_at: value.wakeAt(now), context: value.context };
    if (value instanceof SignalWait) return { kind: 'wait_signal', name: value.name, timeout_at: value.timeoutAt(now), context: value.context };
    if (value instanceof Suspension) {
      if (value.metadata) toJsonText(value.metadata, 'Suspension metadata', 'max_metadata_bytes');
      return { kind: 'suspended', reason: value.reason, metadata: value.metadata ?? null, context: value.context };
    }
    const result = toJsonText(value, `Result of task ${task.id} (${task.name})`, 'max_result_bytes');
    if (task.type === 'cron') {
      const basis = { cron_expr: task.cron_expr, cron_tz: task.cron_tz };
      return { kind: 'rescheduled', result, next_run_time: nextRunTime(task.cron_expr ?? '', task.cron_tz ?? 'UTC', now), basis };
    }
    return { kind: 'completed', result };
  } catch (error) {
    const message = error instanceof TaskmillError ? storableError(`${error.name}: ${error.message}`) : errorText(error);
    return { kind: 'failed', status: 'failed', error: message };
  }
}
