import { ValidationError, knownKeysObject, unknownOption } from '@taskmill/contracts';
import type { AttemptQuery, EventQuery, Page, Store, Task, TaskAttempt, TaskEvent, TaskId, TaskQuery } from '@taskmill/contracts';
import { summarizeWorkflow, type WorkflowAuditSummary } from './summary.js';

/*
 * The paged audit reads of docs/behaviour.md#queries and the views built from them. Filter values and paging are
 * validated once, by the store (the store kit's rules, the same on every store); this file adds
 * only what fib-flow's API checks before reaching the store: a required id.
 */

/** The part of a {@link Store} the audit reads need: any taskmill store, opened by the caller. */
export type AuditStore = Pick<
  Store,
  'getTask' | 'queryTasks' | 'queryTaskEvents' | 'queryWorkflowEvents' | 'queryTaskAttempts' | 'queryWorkflowAttempts'
>;

/**
 * A required task id (docs/behaviour.md#queries): a missing or falsy one is a ValidationError with fib-flow's
 * message. Other values go to the store, where an id that cannot exist finds nothing.
 */
export function requireTaskId(id: unknown, message = 'Task ID is required'): TaskId {
  if (id === undefined || id === null || id === '' || id === 0 || id === false) throw new ValidationError(message);
  return id as TaskId;
}

const ROOT_REQUIRED = 'Root task ID is required';

/** Tasks matching every filter, ordered by `created_at, id` (docs/behaviour.md#queries). */
export async function queryTasks(store: AuditStore, query: TaskQuery = {}): Promise<Page<Task>> {
  return store.queryTasks(query);
}

/** Events of one task, ordered by `event_time, id`. */
export async function queryTaskEvents(store: AuditStore, taskId: TaskId, query: EventQuery = {}): Promise<Page<TaskEvent>> {
  return store.queryTaskEvents(requireTaskId(taskId), query);
}

/** Events of a workflow: the root's and every descendant's (`root_id = root`), ordered by `event_time, id`. */
export async function queryWorkflowEvents(store: AuditStore, rootId: TaskId, query: EventQuery = {}): Promise<Page<TaskEvent>> {
  return store.queryWorkflowEvents(requireTaskId(rootId, ROOT_REQUIRED), query);
}

/** Attempts of one task, ordered by `attempt, id`. */
export async function queryTaskAttempts(store: AuditStore, taskId: TaskId, query: AttemptQuery = {}): Promise<Page<TaskAttempt>> {
  return store.queryTaskAttempts(requireTaskId(taskId), query);
}

/** Attempts of a workflow's tasks (`id = root OR root_id = root`), ordered by `attempt, id`. */
export async function queryWorkflowAttempts(store: AuditStore, rootId: TaskId, query: AttemptQuery = {}): Promise<Page<TaskAttempt>> {
  return store.queryWorkflowAttempts(requireTaskId(rootId, ROOT_REQUIRED), query);
}

/** `getTaskAudit`: a task with a page of its events and a page of its attempts. */
export interface TaskAudit {
  /** Null when the task does not exist (e.g. deleted by retention). */
  task: Task | null;
  events: Page<TaskEvent>;
  attempts: Page<TaskAttempt>;
}

/** `getWorkflowAudit`: a workflow's root with a page of its tasks and a page of its events. */
export interface WorkflowAudit {
  root_task: Task | null;
  tasks: Page<Task>;
  events: Page<TaskEvent>;
}

function options<T>(value: T | undefined | null, what: string): T | Record<string, never> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new ValidationError(`${what} must be an object`);
  return value;
}

/** A view's query argument: like the store's filters it accepts any object but an array (see `knownKeysObject`). */
function knownOptions(value: unknown, keys: readonly string[], what: string): Record<string, unknown> {
  const messages = { notObject: `${what} options must be an object`, unknownKey: unknownOption(what) };
  return knownKeysObject(value, keys, messages, ValidationError, { optional: true, accept: 'non-array' });
}

/** The task, its events and its attempts (docs/behaviour.md#queries), each page with its own filters. */
export async function getTaskAudit(
  store: AuditStore,
  taskId: TaskId,
  query: { events?: EventQuery; attempts?: AttemptQuery } = {},
): Promise<TaskAudit> {
  const id = requireTaskId(taskId);
  const q = knownOptions(query, ['events', 'attempts'], 'getTaskAudit');
  const [task, events, attempts] = await Promise.all([
    store.getTask(id),
    store.queryTaskEvents(id, options(q.events as EventQuery, 'events')),
    store.queryTaskAttempts(id, options(q.attempts as AttemptQuery, 'attempts')),
  ]);
  return { task, events, attempts };
}

/**
 * A workflow's root, its tasks (`queryTasks({workflow_root_id: root, ...tasks})`) and its events
 * (docs/behaviour.md#queries). A `workflow_root_id` in `tasks` is overridden by the root.
 */
export async function getWorkflowAudit(
  store: AuditStore,
  rootId: TaskId,
  query: { tasks?: TaskQuery; events?: EventQuery } = {},
): Promise<WorkflowAudit> {
  const id = requireTaskId(rootId, ROOT_REQUIRED);
  const q = knownOptions(query, ['tasks', 'events'], 'getWorkflowAudit');
  const [root_task, tasks, events] = await Promise.all([
    store.getTask(id),
    store.queryTasks({ ...options(q.tasks as TaskQuery, 'tasks'), workflow_root_id: id }),
    store.queryWorkflowEvents(id, options(q.events as EventQuery, 'events')),
  ]);
  return { root_task, tasks, events };
}

/**
 * `getWorkflowAuditSummary` (docs/behaviour.md#audit-summary; durations in seconds with millisecond fractions, #time): loads every task,
 * attempt and event of the workflow, unpaged, and summarises them with {@link summarizeWorkflow}.
 * A root that does not exist yields the empty summary.
 */
export async function getWorkflowAuditSummary(store: AuditStore, rootId: TaskId): Promise<WorkflowAuditSummary> {
  const id = requireTaskId(rootId, ROOT_REQUIRED);
  const root = await store.getTask(id);
  if (root === null) return summarizeWorkflow({ root: null, tasks: [], attempts: [], events: [] });
  const [tasks, attempts, events] = await Promise.all([
    store.queryTasks({ workflow_root_id: id }),
    store.queryWorkflowAttempts(id, {}),
    store.queryWorkflowEvents(id, {}),
  ]);
  return summarizeWorkflow({ root, tasks: tasks.items, attempts: attempts.items, events: events.items });
}
