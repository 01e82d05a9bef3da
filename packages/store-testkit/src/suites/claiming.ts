import type { RegisterWorkerInput, Task } from '@taskmill/contracts';
import { events } from '@taskmill/store-kit';
import { expect } from 'vitest';
import { claimOne, createOne, newTask, T0, taskInStatus } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

function registration(worker_id: string, overrides: Partial<RegisterWorkerInput> = {}): RegisterWorkerInput {
  return { worker_id, pod_id: 'pod-a', host: 'host-1', pid: 42, meta: null, now: T0, ttl_ms: 30_000, ...overrides };
}

/** claimTasks (docs/behaviour.md#claiming). */
export function defineClaimingTests({ test, open, db }: SuiteContext): void {
  /** Six tasks whose claim order is D, B, A, E, C, F. */
  async function orderingFixture(store: Awaited<ReturnType<typeof open>>) {
    const [a, b, c, d, e, f] = await store.createTasks(
      [
        newTask({ priority: 0, next_run_time: T0 }),
        newTask({ priority: 5, next_run_time: T0 + 10 }),
        newTask({ priority: -3, next_run_time: T0 }),
        newTask({ priority: 5, next_run_time: T0 }),
        newTask({ priority: 0, next_run_time: T0 }),
        newTask({ priority: -10, next_run_time: T0 - 1000 }),
      ],
      T0 - 5000,
    );
    return [d, b, a, e, c, f];
  }

  test('claimTasks orders by priority desc, next_run_time asc, id asc (negative priorities too)', async () => {
    const store = await open();
    const expected = await orderingFixture(store);
    const claimed = await store.claimTasks({ worker_id: 'w1', now: T0 + 100, limit: 10, names: ['job'] });
    expect(claimed.map((t) => t.id)).toEqual(expected);
  });

  test('claimTasks selects the best candidates when the limit is smaller than the backlog', async () => {
    const store = await open();
    const expected = await orderingFixture(store);
    const got: number[] = [];
    for (let i = 0; i < 3; i++) {
      const claimed = await store.claimTasks({ worker_id: 'w1', now: T0 + 100, limit: 2, names: ['job'] });
      expect(claimed).toHaveLength(2);
      got.push(...claimed.map((t) => t.id));
    }
    expect(got).toEqual(expected);
    expect(await store.claimTasks({ worker_id: 'w1', now: T0 + 100, limit: 2, names: ['job'] })).toEqual([]);
  });

  test('claimTasks only takes due tasks (next_run_time <= now)', async () => {
    const store = await open();
    const id = await createOne(store, { next_run_time: T0 + 1000 });
    expect(await store.claimTasks({ worker_id: 'w1', now: T0 + 999, limit: 5, names: ['job'] })).toEqual([]);
    expect((await db.task(store, id))?.status).toBe('pending');
    const claimed = await store.claimTasks({ worker_id: 'w1', now: T0 + 1000, limit: 5, names: ['job'] });
    expect(claimed.map((t) => t.id)).toEqual([id]);
  });

  test('claimTasks only takes tasks whose name is in names', async () => {
    const store = await open();
    const [a, , c] = await store.createTasks([newTask({ name: 'a' }), newTask({ name: 'b' }), newTask({ name: 'c' })], T0);
    const claimed = await store.claimTasks({ worker_id: 'w1', now: T0, limit: 10, names: ['a', 'c', 'zzz'] });
    expect(claimed.map((t) => t.id).sort((x, y) => x - y)).toEqual([a, c].sort((x, y) => x - y));
    const pending = await db.tasks(store, { status: 'pending' });
    expect(pending.map((t) => t.name)).toEqual(['b']);
  });

  test('claimTasks respects limit; limit 0 and empty names claim nothing', async () => {
    const store = await open();
    await store.createTasks(Array.from({ length: 5 }, () => newTask()), T0);
    const before = await db.snapshot(store);
    expect(await store.claimTasks({ worker_id: 'w1', now: T0, limit: 0, names: ['job'] })).toEqual([]);
    expect(await store.claimTasks({ worker_id: 'w1', now: T0, limit: 5, names: [] })).toEqual([]);
    expect(await db.snapshot(store)).toEqual(before);
    expect(await store.claimTasks({ worker_id: 'w1', now: T0, limit: 3, names: ['job'] })).toHaveLength(3);
    expect(await db.tasks(store, { status: 'running' })).toHaveLength(3);
    expect(await store.claimTasks({ worker_id: 'w1', now: T0, limit: 3, names: ['job'] })).toHaveLength(2);
  });

  test('claimTasks respects name_limits', async () => {
    const store = await open();
    // a's run first by priority, so without the cap they would fill the limit
    await store.createTasks(
      [
        ...Array.from({ length: 3 }, () => newTask({ name: 'a', priority: 10 })),
        ...Array.from({ length: 3 }, () => newTask({ name: 'b' })),
        ...Array.from({ length: 2 }, () => newTask({ name: 'c', priority: 20 })),
      ],
      T0,
    );
    const claimed = await store.claimTasks({ worker_id: 'w1', now: T0, limit: 5, names: ['a', 'b', 'c'], name_limits: { a: 1, c: 0 } });
    const count = (name: string) => claimed.filter((t) => t.name === name).length;
    expect(claimed).toHaveLength(4);
    expect([count('a'), count('b'), count('c')]).toEqual([1, 3, 0]);
    expect((await db.tasks(store, { status: 'running' })).length).toBe(4);
  });

  test('claimTasks marks the task running, increments attempt and opens one attempt row', async () => {
    const store = await open();
    const id = await createOne(store, { payload: '{"k":"v"}' });
    const [task] = await store.claimTasks({ worker_id: 'w1', now: T0 + 50, limit: 1, names: ['job'] });
    expect(task).toMatchObject({
      id,
      status: 'running',
      worker_id: 'w1',
      start_time: T0 + 50,
      last_active_time: T0 + 50,
      attempt: 1,
      retry_count: 0,
      stage: 0,
      payload: { k: 'v' },
      last_event_type: 'task_started',
      last_event_time: T0 + 50,
    });
    expect(await store.getTask(id)).toEqual(task);
    expect(await db.task(store, id)).toEqual(task);
    const attempts = await db.attempts(store, { task_id: id });
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({
      task_id: id,
      attempt: 1,
      worker_id: 'w1',
      started_at: T0 + 50,
      ended_at: null,
      outcome: null,
      error: null,
      timeout_flag: false,
    });
  });

  test('claimTasks writes task_claimed then task_started', async () => {
    const store = await open();
    const id = await createOne(store, { name: 'evt', tag: 'x' });
    const task = await claimOne(store, { names: ['evt'], worker: 'w7', now: T0 + 5 });
    const evs = await db.events(store, { task_id: id });
    expect(evs.map((e) => e.event_type)).toEqual(['task_created', 'task_claimed', 'task_started']);
    const expected = events.claimed({ ...task, stage: 0 }, 'w7', 1, 0, T0 + 5);
    expect(evs.slice(1).map(({ id: _id, ...rest }) => rest)).toEqual(expected);
    expect(evs[1]).toMatchObject({ attempt: null, worker_id: 'w7', from_status: 'pending', to_status: 'running', root_id: id, metadata: { name: 'evt' } });
    expect(evs[2]).toMatchObject({ attempt: 1, worker_id: 'w7', metadata: { name: 'evt', retry_count: 0 } });
  });

  test('claimTasks never hands out a task that is already claimed', async () => {
    const store = await open();
    const id = await createOne(store);
    const first = await claimOne(store, { worker: 'w1' });
    expect(first.id).toBe(id);
    expect(await store.claimTasks({ worker_id: 'w2', now: T0 + 10_000, limit: 5, names: ['job'] })).toEqual([]);
    expect(await store.claimTasks({ worker_id: 'w1', now: T0 + 10_000, limit: 5, names: ['job'] })).toEqual([]);
    expect(await db.attempts(store, { task_id: id })).toHaveLength(1);
    expect((await db.task(store, id))?.worker_id).toBe('w1');
  });

  test('claimTasks never claims paused, suspended, completed, permanently failed or running tasks', async () => {
    const store = await open();
    const ids: number[] = [];
    for (const status of ['paused', 'suspended', 'completed', 'permanently_failed', 'running'] as const) {
      ids.push((await taskInStatus(store, status)).id);
    }
    const names = ['in-paused', 'in-suspended', 'in-completed', 'in-permanently_failed', 'in-running'];
    const before = await db.snapshot(store);
    expect(await store.claimTasks({ worker_id: 'w9', now: T0 + 86_400_000, limit: 10, names })).toEqual([]);
    expect(await db.snapshot(store)).toEqual(before);
    const statuses = await Promise.all(ids.map(async (id) => ((await db.task(store, id)) as Task).status));
    expect(statuses).toEqual(['paused', 'suspended', 'completed', 'permanently_failed', 'running']);
  });

  test('claimTasks claims nothing for a superseded worker', async () => {
    const store = await open();
    await store.registerWorker(registration('w-old', { now: T0 }));
    await store.registerWorker(registration('w-new', { now: T0 + 10 }));
    expect(await store.supersedeWorkers('pod-a', 'w-new', T0 + 10)).toEqual(['w-old']);
    const id = await createOne(store);
    const before = await db.snapshot(store);
    expect(await store.claimTasks({ worker_id: 'w-old', now: T0 + 20, limit: 5, names: ['job'] })).toEqual([]);
    expect(await db.snapshot(store)).toEqual(before);
    const claimed = await claimOne(store, { worker: 'w-new', now: T0 + 30 });
    expect(claimed).toMatchObject({ id, worker_id: 'w-new', attempt: 1 });
  });

  test('claimTasks claims nothing for a dead worker', async () => {
    const store = await open();
    await store.registerWorker(registration('w-marked'));
    await store.registerWorker(registration('w-reaped', { pod_id: 'pod-b', ttl_ms: 1000 }));
    await store.registerWorker(registration('w-live', { pod_id: 'pod-c', ttl_ms: 60_000 }));
    expect(await store.markWorkerDead('w-marked', T0 + 5)).toBe(true);
    expect(await store.reapExpiredWorkers(T0 + 1001, 10)).toEqual(['w-reaped']);
    // a retry candidate too: a fenced claim must not promote it either
    const retry = await taskInStatus(store, 'failed', T0);
    const id = await createOne(store);
    const before = await db.snapshot(store);
    for (const worker of ['w-marked', 'w-reaped']) {
      expect(await store.claimTasks({ worker_id: worker, now: T0 + 120_000, limit: 5, names: ['job', 'in-failed'] })).toEqual([]);
      expect(
        await store.claimTasks({ worker_id: worker, now: T0 + 120_000, limit: 5, names: ['job', 'in-failed'], name_limits: { job: 1 } }),
      ).toEqual([]);
    }
    expect(await db.snapshot(store)).toEqual(before);
    const claimed = await store.claimTasks({ worker_id: 'w-live', now: T0 + 120_000, limit: 5, names: ['job', 'in-failed'] });
    expect(claimed.map((t) => t.id).sort((x, y) => x - y)).toEqual([retry.id, id].sort((x, y) => x - y));
    expect(claimed.every((t) => t.worker_id === 'w-live')).toBe(true);
  });

  test('claimTasks works for a worker without a registry row and for an active one', async () => {
    const store = await open();
    const [a, b] = await store.createTasks([newTask(), newTask()], T0);
    expect(await store.getWorker('loose')).toBeNull();
    expect((await claimOne(store, { worker: 'loose', now: T0 + 1 })).id).toBe(a);
    await store.registerWorker(registration('w-active'));
    // other workers of other pods being superseded or dead does not matter
    await store.registerWorker(registration('w-other', { pod_id: 'pod-b' }));
    await store.markWorkerDead('w-other', T0 + 1);
    expect((await claimOne(store, { worker: 'w-active', now: T0 + 2 })).id).toBe(b);
    expect(await db.task(store, a)).toMatchObject({ status: 'running', worker_id: 'loose' });
    expect(await db.task(store, b)).toMatchObject({ status: 'running', worker_id: 'w-active' });
  });

  test('claimTasks claims again once a superseded or dead worker registers again', async () => {
    const store = await open();
    await store.createTasks([newTask(), newTask()], T0);
    await store.registerWorker(registration('w1'));
    await store.registerWorker(registration('w2', { now: T0 + 1 }));
    await store.supersedeWorkers('pod-a', 'w2', T0 + 1);
    expect(await store.claimTasks({ worker_id: 'w1', now: T0 + 2, limit: 1, names: ['job'] })).toEqual([]);
    expect(await store.registerWorker(registration('w1', { now: T0 + 3 }))).toMatchObject({ status: 'active' });
    expect(await claimOne(store, { worker: 'w1', now: T0 + 4 })).toMatchObject({ worker_id: 'w1', attempt: 1 });
    expect(await store.markWorkerDead('w1', T0 + 5)).toBe(true);
    expect(await store.claimTasks({ worker_id: 'w1', now: T0 + 6, limit: 1, names: ['job'] })).toEqual([]);
    await store.registerWorker(registration('w1', { now: T0 + 7 }));
    expect(await claimOne(store, { worker: 'w1', now: T0 + 8 })).toMatchObject({ worker_id: 'w1', attempt: 1 });
    expect(await db.tasks(store, { status: 'running' })).toHaveLength(2);
  });
}
