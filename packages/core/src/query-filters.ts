import { ValidationError, type DeleteTasksFilter, type TaskId, type TaskQuery, type TaskStatus, type WorkerStatus } from '@taskmill/contracts';
import { knownOptions } from './validate.js';

/*
 * Mapping of the public query arguments onto store calls: argument shapes only. The values of
 * status, type and paging filters are validated by the store (one layer validates, one message
 * per mistake), so they are passed through here unchecked.
 */

/** Odd tag/name/worker filter values (not a non-empty string) are ignored, as in fib-flow (docs/behaviour.md#filters). */
function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function defined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, value]) => value !== undefined)) as T;
}

/** `getTasksByStatus(status, {suspend_reason?})` as `getTasks()` filters. */
export function statusFilters(status: unknown, options: unknown): Record<string, unknown> {
  if (status === undefined || status === null || status === '') throw new ValidationError('Status is required');
  const opts = knownOptions(options, ['suspend_reason'], 'getTasksByStatus options', 'getTasksByStatus');
  return defined({ status, suspend_reason: opts.suspend_reason });
}

/** `getChildTasks(parentId)` as `getTasks()` filters: a missing parent id is a ValidationError. */
export function childFilters(parentId: TaskId): TaskQuery {
  if (parentId === undefined || parentId === null || (parentId as unknown) === '' || parentId === 0) throw new ValidationError('Parent task ID is required');
  return { parent_id: parentId };
}

/** The `deleteTasks()` filters (tag, status, name; ANDed; none deletes all). */
export function deleteFilter(filters: unknown): DeleteTasksFilter {
  const f = knownOptions(filters, ['tag', 'status', 'name'], 'filters', 'deleteTasks filter');
  return defined({ status: f.status as TaskStatus | undefined, tag: text(f.tag), name: text(f.name) });
}

/** `getTaskStatsByTag(tag?, status?)` arguments: a falsy tag or status means no filter. */
export function statsArgs(tag: unknown, status: unknown): [string | undefined, TaskStatus | undefined] {
  return [text(tag), status === undefined || status === null ? undefined : (status as TaskStatus)];
}

/** `listWorkers({pod_id?, status?})`. */
export function workerFilter(filter: unknown): { pod_id?: string; status?: WorkerStatus } {
  const f = knownOptions(filter, ['pod_id', 'status'], 'listWorkers filter', 'listWorkers');
  return f as { pod_id?: string; status?: WorkerStatus };
}

/** A required string argument such as a task name, tag or worker id. */
export function required(value: unknown, message: string): string {
  if (typeof value !== 'string' || value === '') throw new ValidationError(message);
  return value;
}
