import { NEW_TASK_DEFAULTS, type Fence, type NewChildTask, type NewTask, type Store, type Task, type TaskId, type TaskStatus } from '@taskmill/contracts';
import { expect } from 'vitest';

/*
 * Small builders the conformance tests share. Every time is an explicit epoch-ms value derived
 * from T0, because a store never reads the clock.
 */

/** The fixed "now" the suite starts from (epoch ms). */
export const T0 = 1_700_000_000_000;

/** A hostile string used as tag/name/filter value: it must be stored and matched as plain data. */
export const SQL_INJECTION = `x'); DROP TABLE taskmill_tasks; --`;

/** An id no test ever creates. */
export const UNKNOWN_ID = 987_654_321;

/** A valid {@link NewTask} (async, due at T0, defaults of docs/behaviour.md#enqueueing) with `overrides` applied. */
export function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    name: 'job',
    type: 'async',
    payload: null,
    priority: 0,
    tag: null,
    next_run_time: T0,
    timeout: 60,
    max_retries: 3,
    retry_interval: 0,
    cron_expr: null,
    cron_tz: null,
    ...NEW_TASK_DEFAULTS,
    ...overrides,
  };
}

/** A valid {@link NewChildTask} with `overrides` applied. */
export function newChild(overrides: Partial<NewChildTask> = {}): NewChildTask {
  return {
    name: 'child',
    payload: null,
    priority: 0,
    tag: null,
    timeout: 60,
    max_retries: 3,
    retry_interval: 0,
    retry_backoff: 'fixed',
    retry_max_interval: null,
    retry_jitter: 0,
    trace_context: null,
    concurrency_key: null,
    ...overrides,
  };
}

/** Create one task and return its id. */
export async function createOne(store: Store, overrides: Partial<NewTask> = {}, now = T0): Promise<TaskId> {
  const [id] = await store.createTasks([newTask(overrides)], now);
  return id;
}

/** The fence a claimed task hands its worker. */
export function fenceOf(task: Task): Fence {
  if (task.worker_id === null) throw new Error(`task ${task.id} has no worker`);
  return { task_id: task.id, worker_id: task.worker_id, attempt: task.attempt };
}

/** Options of {@link claimOne}. */
export interface ClaimOptions {
  /** (Default: `['job']`) */
  names?: string[];
  /** (Default: `'w1'`) */
  worker?: string;
  /** (Default: T0) */
  now?: number;
}

/** Claim exactly one task (fails the test otherwise). */
export async function claimOne(store: Store, options: ClaimOptions = {}): Promise<Task> {
  const claimed = await store.claimTasks({
    worker_id: options.worker ?? 'w1',
    now: options.now ?? T0,
    limit: 1,
    names: options.names ?? ['job'],
  });
  expect(claimed, 'claimOne expected exactly one claimable task').toHaveLength(1);
  return claimed[0];
}

/** Create a task and claim it; returns the claimed task and its fence. */
export async function createAndClaim(
  store: Store,
  overrides: Partial<NewTask> = {},
  options: { worker?: string; now?: number } = {},
): Promise<{ task: Task; fence: Fence }> {
  const now = options.now ?? T0;
  const name = overrides.name ?? 'job';
  await createOne(store, { ...overrides, name, next_run_time: overrides.next_run_time ?? now }, now);
  const task = await claimOne(store, { names: [name], worker: options.worker, now });
  return { task, fence: fenceOf(task) };
}

/**
 * Put a new task in `status` through the store's own operations (never through SQL).
 * Returns its id and, when it is running, its fence.
 */
export async function taskInStatus(
  store: Store,
  status: TaskStatus,
  now = T0,
): Promise<{ id: TaskId; fence: Fence | null }> {
  const name = `in-${status}`;
  const maxRetries = status === 'permanently_failed' ? 1 : 3;
  const id = await createOne(store, { name, max_retries: maxRetries, retry_interval: 60, next_run_time: now }, now);
  if (status === 'pending') return { id, fence: null };
  if (status === 'paused') {
    await store.pauseTask(id, now + 1);
    return { id, fence: null };
  }
  const task = await claimOne(store, { names: [name], now: now + 1 });
  expect(task.id).toBe(id);
  const fence = fenceOf(task);
  switch (status) {
    case 'running':
      return { id, fence };
    case 'completed':
      await expectApplied(store.finishAttempt(fence, { kind: 'completed', result: '"done"' }, now + 2));
      break;
    case 'failed':
    case 'permanently_failed':
      await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'Error: boom' }, now + 2));
      break;
    case 'timeout':
      await expectApplied(
        store.finishAttempt(fence, { kind: 'failed', status: 'timeout', error: 'Task execution timeout', timeout_type: 'check' }, now + 2),
      );
      break;
    case 'suspended':
      await expectApplied(store.finishAttempt(fence, { kind: 'suspended', reason: 'review' }, now + 2));
      break;
    default:
      throw new Error(`unexpected status ${status}`);
  }
  const after = await store.getTask(id);
  expect(after?.status).toBe(status);
  return { id, fence: null };
}

/** Await a finishAttempt and assert it was applied; returns the task after the change. */
export async function expectApplied(result: ReturnType<Store['finishAttempt']>): Promise<Task> {
  const res = await result;
  expect(res.applied, 'finishAttempt should have been applied').toBe(true);
  expect(res.task).not.toBeNull();
  return res.task as Task;
}

/** Ids sorted ascending (ids are numbers in every store). */
export function sortedIds(ids: Iterable<TaskId>): TaskId[] {
  return [...ids].sort((a, b) => a - b);
}

/** Bytes as a Buffer so Buffer/Uint8Array values compare equal. */
export function bytes(value: Uint8Array | null | undefined): Buffer | null {
  return value ? Buffer.from(value) : null;
}
