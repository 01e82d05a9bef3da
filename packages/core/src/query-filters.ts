import { ValidationError, parseTaskId, type DeleteTasksFilter, type TaskQuery, type TaskStatus, type WorkerStatus } from '@taskmill/contracts';
import { knownKeys, optionsObject } from './validate.js';

/*
 * Mapping of the public query arguments onto store calls: argument shapes only. The values of
 * status, type and paging filters are validated by the store (one layer validates, one message
 * per mistake), so they are passed through here unchecked.
 */

const TASK_FILTER_KEYS = ['tag', 'status', 'name', 'worker_id', 'parent_id', 'root_id', 'type', 'workflow_root_id', 'suspend_reason'] as const;
const ID_FILTER_KEYS = ['parent_id', 'root_id', 'workflow_root_id'] as const;

/** Odd tag/name/worker filter values (not a non-empty string) are ignored, as in the reference (SPEC A14). */
function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function defined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, value]) => value !== undefined)) as T;
}

/** The `getTasks()` filters as a store query, or null when an id filter names a task that cannot exist. */
export function taskQuery(filters: unknown): TaskQuery | null {
  const f = optionsObject(filters, 'filters');
  knownKeys(f, TASK_FILTER_KEYS, 'task filter');
  const q: TaskQuery = defined({
    status: f.status as TaskStatus | undefined,
    type: f.type as TaskQuery['type'],
    tag: text(f.tag),
    name: text(f.name),
    worker_id: text(f.worker_id),
    suspend_reason: text(f.suspend_reason),
  });
  for (const key of ID_FILTER_KEYS) {
    if (f[key] === undefined) continue;
    const id = parseTaskId(f[key]);
    if (id === null) return null;
    q[key] = id;
  }
  return q;
}

/** `getTasksByStatus(status, {suspend_reason?})` as `getTasks()` filters. */
export function statusFilters(status: unknown, options: unknown): Record<string, unknown> {
  if (status === undefined || status === null || status === '') throw new ValidationError('Status is required');
  const opts = optionsObject(options, 'getTasksByStatus options');
  knownKeys(opts, ['suspend_reason'], 'getTasksByStatus');
  return defined({ status, suspend_reason: opts.suspend_reason });
}

/** The `deleteTasks()` filters (tag, status, name; ANDed; none deletes all). */
export function deleteFilter(filters: unknown): DeleteTasksFilter {
  const f = optionsObject(filters, 'filters');
  knownKeys(f, ['tag', 'status', 'name'], 'deleteTasks filter');
  return defined({ status: f.status as TaskStatus | undefined, tag: text(f.tag), name: text(f.name) });
}

/** `getTaskStatsByTag(tag?, status?)` arguments: a falsy tag or status means no filter. */
export function statsArgs(tag: unknown, status: unknown): [string | undefined, TaskStatus | undefined] {
  return [text(tag), status === undefined || status === null ? undefined : (status as TaskStatus)];
}

/** `listWorkers({pod_id?, status?})`. */
export function workerFilter(filter: unknown): { pod_id?: string; status?: WorkerStatus } {
  const f = optionsObject(filter, 'listWorkers filter');
  knownKeys(f, ['pod_id', 'status'], 'listWorkers');
  return f as { pod_id?: string; status?: WorkerStatus };
}

/** A required string argument such as a task name, tag or worker id. */
export function required(value: unknown, message: string): string {
  if (typeof value !== 'string' || value === '') throw new ValidationError(message);
  return value;
}
