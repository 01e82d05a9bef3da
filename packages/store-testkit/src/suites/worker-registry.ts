import { SWEEP_ERRORS, type RegisterWorkerInput, type Store, type WorkerRecord } from '@taskmill/contracts';
import { expect } from 'vitest';
import { claimOne, createAndClaim, createOne, expectApplied, fenceOf, newTask, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

function registration(overrides: Partial<RegisterWorkerInput> = {}): RegisterWorkerInput {
  return { worker_id: 'w1', pod_id: 'pod-a', host: 'host-1', pid: 42, meta: { version: '1.0', tags: ['x'] }, now: T0, ttl_ms: 30_000, ...overrides };
}

async function statusOf(store: Store, id: string): Promise<string | undefined> {
  return (await store.getWorker(id))?.status;
}

/** Worker registry, leases and recovery (docs/behaviour.md#worker-registry). */
export function defineWorkerRegistryTests({ test, open, db }: SuiteContext): void {
  test('serverTime reads the database clock in ms since the epoch, whatever this process says the time is', async () => {
    const store = await open();
    const before = Date.now();
    const first = await store.serverTime();
    const second = await store.serverTime();
    const after = Date.now();
    expect(Number.isSafeInteger(first)).toBe(true);
    // the servers run on this host: their clock agrees with ours within a scheduling margin
    expect(first).toBeGreaterThanOrEqual(before - 1000);
    expect(second).toBeLessThanOrEqual(after + 1000);
    expect(second).toBeGreaterThanOrEqual(first);
    // a process clock an hour off does not move it: the reading is the server's own
    const realNow = Date.now;
    Date.now = () => realNow() + 3_600_000;
    try {
      expect(Math.abs((await store.serverTime()) - realNow())).toBeLessThan(1000);
    } finally {
      Date.now = realNow;
    }
  });

  test('registerWorker stores an active lease and re-registering replaces the row', async () => {
    const store = await open();
    const row = await store.registerWorker(registration());
    const expected: WorkerRecord = {
      worker_id: 'w1',
      pod_id: 'pod-a',
      status: 'active',
      host: 'host-1',
      pid: 42,
      registered_at: T0,
      last_seen_at: T0,
      expires_at: T0 + 30_000,
      superseded_at: null,
      dead_at: null,
      meta: { version: '1.0', tags: ['x'] },
    };
    expect(row).toEqual(expected);
    expect(await store.getWorker('w1')).toEqual(expected);
    expect(await db.workers(store, { worker_id: 'w1' })).toEqual([expected]);
    await store.markWorkerDead('w1', T0 + 10);
    const again = await store.registerWorker(registration({ now: T0 + 100, ttl_ms: 5000, pod_id: null, host: null, pid: null, meta: null }));
    expect(again).toEqual({ ...expected, pod_id: null, host: null, pid: null, meta: null, registered_at: T0 + 100, last_seen_at: T0 + 100, expires_at: T0 + 5100 });
    expect(await db.workers(store)).toHaveLength(1);
  });

  test('heartbeatWorker replaces meta when given and leaves it alone when not', async () => {
    const store = await open();
    await store.registerWorker(registration());
    const overdue = { version: '1.0', overdue_handlers: [{ task_id: 7, attempt: 2, since: T0 + 5 }] };
    expect(await store.heartbeatWorker('w1', T0 + 10, 30_000, overdue)).toMatchObject({ meta: overdue, last_seen_at: T0 + 10 });
    expect(await store.heartbeatWorker('w1', T0 + 20, 30_000)).toMatchObject({ meta: overdue, last_seen_at: T0 + 20 });
    expect((await db.workers(store, { worker_id: 'w1' }))[0].meta).toEqual(overdue);
    expect(await store.heartbeatWorker('w1', T0 + 30, 30_000, null)).toMatchObject({ meta: null, expires_at: T0 + 30_030 });
    await store.markWorkerDead('w1', T0 + 40);
    expect(await store.heartbeatWorker('w1', T0 + 50, 30_000, { late: true })).toMatchObject({ status: 'dead', meta: null });
  });

  test('heartbeatWorker extends only active leases', async () => {
    const store = await open();
    await store.registerWorker(registration({ worker_id: 'a' }));
    await store.registerWorker(registration({ worker_id: 'b' }));
    expect(await store.heartbeatWorker('a', T0 + 1000, 20_000)).toMatchObject({ status: 'active', last_seen_at: T0 + 1000, expires_at: T0 + 21_000 });
    expect(await store.markWorkerDead('b', T0 + 1500)).toBe(true);
    const dead = await store.heartbeatWorker('b', T0 + 2000, 20_000);
    expect(dead).toMatchObject({ status: 'dead', last_seen_at: T0, expires_at: T0 + 30_000, dead_at: T0 + 1500 });
    expect(await db.workers(store, { worker_id: 'b' })).toEqual([dead]);
    expect(await store.heartbeatWorker('nobody', T0, 1000)).toBeNull();
  });

  test('supersedeWorkers marks every other active worker of the pod superseded', async () => {
    const store = await open();
    await store.registerWorker(registration({ worker_id: 'w1', pod_id: 'A' }));
    await store.registerWorker(registration({ worker_id: 'w2', pod_id: 'A' }));
    await store.registerWorker(registration({ worker_id: 'w3', pod_id: 'B' }));
    await store.registerWorker(registration({ worker_id: 'w4', pod_id: 'A' }));
    await store.registerWorker(registration({ worker_id: 'w5', pod_id: 'A' }));
    await store.markWorkerDead('w4', T0 + 1);
    const superseded = await store.supersedeWorkers('A', 'w2', T0 + 5);
    expect([...superseded].sort()).toEqual(['w1', 'w5']);
    expect(await store.getWorker('w1')).toMatchObject({ status: 'superseded', superseded_at: T0 + 5 });
    expect(await statusOf(store, 'w2')).toBe('active');
    expect(await statusOf(store, 'w3')).toBe('active');
    expect(await store.getWorker('w4')).toMatchObject({ status: 'dead', superseded_at: null });
    expect(await store.heartbeatWorker('w1', T0 + 6, 30_000)).toMatchObject({ status: 'superseded', expires_at: T0 + 30_000 });
    expect(await store.supersedeWorkers('A', 'w2', T0 + 7)).toEqual([]);
  });

  test('reapExpiredWorkers marks active workers whose lease ended strictly before now', async () => {
    const store = await open();
    await store.registerWorker(registration({ worker_id: 'w1', ttl_ms: 1000 }));
    await store.registerWorker(registration({ worker_id: 'w2', ttl_ms: 2000, pod_id: 'other' }));
    await store.registerWorker(registration({ worker_id: 'w3', ttl_ms: 500 }));
    await store.supersedeWorkers('pod-a', 'w1', T0 + 1); // w3 superseded: not reaped
    expect(await store.reapExpiredWorkers(T0 + 1000, 10)).toEqual([]);
    expect(await store.reapExpiredWorkers(T0 + 1001, 10)).toEqual(['w1']);
    expect(await store.getWorker('w1')).toMatchObject({ status: 'dead', dead_at: T0 + 1001 });
    expect(await statusOf(store, 'w3')).toBe('superseded');
    // a renewed lease survives
    await store.heartbeatWorker('w2', T0 + 1500, 2000);
    expect(await store.reapExpiredWorkers(T0 + 3000, 10)).toEqual([]);
    expect(await store.reapExpiredWorkers(T0 + 3501, 10)).toEqual(['w2']);
  });

  test('reapExpiredWorkers respects limit', async () => {
    const store = await open();
    for (const id of ['a', 'b', 'c']) await store.registerWorker(registration({ worker_id: id, ttl_ms: 10 }));
    const first = await store.reapExpiredWorkers(T0 + 100, 2);
    expect(first).toHaveLength(2);
    const second = await store.reapExpiredWorkers(T0 + 100, 2);
    expect([...first, ...second].sort()).toEqual(['a', 'b', 'c']);
  });

  test('markWorkerDead marks a live worker dead once', async () => {
    const store = await open();
    await store.registerWorker(registration({ worker_id: 'a' }));
    await store.registerWorker(registration({ worker_id: 'b' }));
    await store.supersedeWorkers('pod-a', 'a', T0 + 1);
    expect(await store.markWorkerDead('a', T0 + 2)).toBe(true);
    expect(await store.getWorker('a')).toMatchObject({ status: 'dead', dead_at: T0 + 2 });
    expect(await store.markWorkerDead('a', T0 + 3)).toBe(false);
    expect((await store.getWorker('a'))?.dead_at).toBe(T0 + 2);
    expect(await store.markWorkerDead('b', T0 + 4)).toBe(true);
    expect(await store.markWorkerDead('nobody', T0 + 5)).toBe(false);
    expect(await store.getWorker('nobody')).toBeNull();
  });

  test('listWorkers orders by registered_at, worker_id and filters by pod and status', async () => {
    const store = await open();
    await store.registerWorker(registration({ worker_id: 'b', pod_id: 'X', now: T0 }));
    await store.registerWorker(registration({ worker_id: 'a', pod_id: 'Y', now: T0 }));
    await store.registerWorker(registration({ worker_id: 'c', pod_id: 'X', now: T0 - 100 }));
    await store.registerWorker(registration({ worker_id: 'd', pod_id: 'X', now: T0 + 100 }));
    await store.markWorkerDead('d', T0 + 200);
    expect((await store.listWorkers()).map((w) => w.worker_id)).toEqual(['c', 'a', 'b', 'd']);
    expect((await store.listWorkers({})).map((w) => w.worker_id)).toEqual(['c', 'a', 'b', 'd']);
    expect((await store.listWorkers({ pod_id: 'X' })).map((w) => w.worker_id)).toEqual(['c', 'b', 'd']);
    expect((await store.listWorkers({ status: 'dead' })).map((w) => w.worker_id)).toEqual(['d']);
    expect((await store.listWorkers({ pod_id: 'X', status: 'active' })).map((w) => w.worker_id)).toEqual(['c', 'b']);
    expect(await store.listWorkers({ pod_id: "X' OR '1'='1" })).toEqual([]);
  });

  test('recoverWorkerTasks hands running tasks of dead workers back to pending', async () => {
    const store = await open();
    // a: retry_count 1, b: stage 1, both running under w-dead; c running under w-live
    const { task: a, fence: fa } = await createAndClaim(store, { name: 'a', max_retries: 3 }, { worker: 'w-dead', now: T0 });
    await expectApplied(store.finishAttempt(fa, { kind: 'failed', status: 'failed', error: 'e' }, T0 + 1));
    const a2 = await claimOne(store, { names: ['a'], worker: 'w-dead', now: T0 + 2 });
    const { task: b, fence: fb } = await createAndClaim(store, { name: 'b' }, { worker: 'w-dead', now: T0 });
    await expectApplied(store.finishAttempt(fb, { kind: 'suspended', reason: 'r' }, T0 + 3));
    await store.resumeTask(b.id, {}, T0 + 4);
    const b2 = await claimOne(store, { names: ['b'], worker: 'w-dead', now: T0 + 5 });
    expect(b2.stage).toBe(1);
    const { task: c } = await createAndClaim(store, { name: 'c' }, { worker: 'w-live', now: T0 });
    const pendingId = await createOne(store, { name: 'p' });

    const recovered = await store.recoverWorkerTasks({ worker_ids: ['w-dead', 'w-other'], by_worker_id: 'w-rec', by_pod_id: 'pod-r', now: T0 + 100, limit: 10 });
    expect([...recovered].sort((x, y) => x.task_id - y.task_id)).toEqual([fenceOf(a2), fenceOf(b2)].sort((x, y) => x.task_id - y.task_id));
    for (const [id, retryCount, attempt] of [[a.id, 1, 2], [b.id, 0, 2]] as const) {
      expect(await store.getTask(id)).toMatchObject({
        status: 'pending',
        stage: 0,
        worker_id: null,
        start_time: null,
        next_run_time: T0 + 100,
        last_active_time: T0 + 100,
        retry_count: retryCount,
        attempt,
        last_event_type: 'task_recovered',
      });
      const attempts = await db.attempts(store, { task_id: id });
      expect(attempts[attempts.length - 1]).toMatchObject({ attempt, outcome: 'interrupted', error: SWEEP_ERRORS.recovered, ended_at: T0 + 100, timeout_flag: false });
      expect((await db.events(store, { task_id: id })).pop()).toMatchObject({
        event_type: 'task_recovered',
        from_status: 'running',
        to_status: 'pending',
        stage: 0,
        worker_id: 'w-rec',
        event_time: T0 + 100,
        metadata: { recovery_reason: 'worker_unavailable', recovered_from_worker_id: 'w-dead', recovered_by_worker_id: 'w-rec', recovered_by_pod_id: 'pod-r' },
      });
    }
    expect(await db.task(store, c.id)).toMatchObject({ status: 'running', worker_id: 'w-live' });
    expect(await db.task(store, pendingId)).toMatchObject({ status: 'pending', last_event_type: 'task_created' });
    // the dead worker's fences no longer hold
    expect((await store.finishAttempt(fenceOf(a2), { kind: 'completed', result: null }, T0 + 101)).applied).toBe(false);
    expect(await store.heartbeatTasks([fenceOf(b2)], T0 + 101)).toEqual([b.id]);
    expect(await store.recoverWorkerTasks({ worker_ids: ['w-dead'], by_worker_id: 'w-rec', by_pod_id: null, now: T0 + 102, limit: 10 })).toEqual([]);
    // recovery is no failure: the task is claimable at once, with a new attempt number
    const again = await claimOne(store, { names: ['a'], worker: 'w-dead', now: T0 + 100 });
    expect(again).toMatchObject({ attempt: 3, retry_count: 1 });
  });

  test('recoverWorkerTasks respects limit and recovers each task once', async () => {
    const store = await open();
    await store.createTasks([newTask(), newTask()], T0);
    await store.claimTasks({ worker_id: 'gone', now: T0, limit: 5, names: ['job'] });
    const input = { worker_ids: ['gone'], by_worker_id: 'r', by_pod_id: null, now: T0 + 1, limit: 1 };
    const first = await store.recoverWorkerTasks(input);
    const second = await store.recoverWorkerTasks(input);
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(1);
    expect(second[0].task_id).not.toBe(first[0].task_id);
    expect(await store.recoverWorkerTasks(input)).toEqual([]);
    expect(await db.events(store, { event_type: 'task_recovered' })).toHaveLength(2);
  });
}
