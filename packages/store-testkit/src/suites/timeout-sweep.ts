import { SWEEP_ERRORS, type TaskId } from '@taskmill/contracts';
import { expect } from 'vitest';
import { claimOne, createAndClaim, createOne, newChild, newTask, T0, taskInStatus } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

const HOUR = 3_600_000;

/** sweepTimedOutTasks (docs/behaviour.md#timeouts, #maintenance). */
export function defineTimeoutSweepTests({ test, open, peer, db }: SuiteContext): void {
  test('sweepTimedOutTasks times out a task at start_time + timeout', async () => {
    const store = await open();
    const { task } = await createAndClaim(store, { timeout: 10, max_retries: 3, retry_interval: 7 }, { worker: 'w1', now: T0 });
    const others = [await createOne(store, { name: 'idle' }, T0 - HOUR)];
    for (const status of ['suspended', 'completed', 'paused', 'failed'] as const) others.push((await taskInStatus(store, status, T0 - HOUR)).id);
    expect(await store.sweepTimedOutTasks({ now: T0 + 9_999, heartbeat_timeout_ms: HOUR, limit: 100 })).toEqual([]);
    const before = await db.snapshot(store);
    const swept = await store.sweepTimedOutTasks({ now: T0 + 10_000, heartbeat_timeout_ms: HOUR, limit: 100 });
    expect(swept).toEqual([{ task_id: task.id, worker_id: 'w1', attempt: 1, timeout_type: 'total' }]);
    expect(await db.task(store, task.id)).toMatchObject({
      status: 'timeout',
      error: SWEEP_ERRORS.total,
      next_run_time: T0 + 10_000 + 7_000,
      retry_count: 0,
      last_event_type: 'task_timed_out',
    });
    expect((await db.events(store, { task_id: task.id })).pop()).toMatchObject({
      event_type: 'task_timed_out',
      from_status: 'running',
      to_status: 'timeout',
      event_time: T0 + 10_000,
      metadata: { timeout_type: 'total', error: SWEEP_ERRORS.total },
    });
    expect((await db.attempts(store, { task_id: task.id }))[0]).toMatchObject({ outcome: 'timeout', timeout_flag: true, error: SWEEP_ERRORS.total, ended_at: T0 + 10_000 });
    // nothing else was touched
    const after = await db.snapshot(store);
    const untouched = (rows: Record<string, unknown>[]) => rows.filter((r) => Number(r.id) !== task.id && Number(r.task_id) !== task.id);
    expect(untouched(after.tasks)).toEqual(untouched(before.tasks));
    expect(after.events.filter((e) => Number(e.task_id) !== task.id)).toEqual(before.events.filter((e) => Number(e.task_id) !== task.id));
    // retried at now + retry_interval like a failure
    expect(await store.claimTasks({ worker_id: 'w2', now: T0 + 16_999, limit: 5, names: ['job'] })).toEqual([]);
    const retried = await claimOne(store, { worker: 'w2', now: T0 + 17_000 });
    expect(retried).toMatchObject({ id: task.id, retry_count: 1, attempt: 2 });
    expect((await db.events(store, { task_id: task.id, event_type: 'task_retry_scheduled' }))[0]?.metadata).toMatchObject({ previous_status: 'timeout' });
  });

  test('sweepTimedOutTasks times out a task whose heartbeat is older than heartbeat_timeout_ms', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { timeout: 3600 }, { now: T0 });
    expect(await store.heartbeatTasks([fence], T0 + 5_000)).toEqual([]);
    expect(await store.sweepTimedOutTasks({ now: T0 + 35_000, heartbeat_timeout_ms: 30_000, limit: 10 })).toEqual([]);
    expect((await db.task(store, task.id))?.status).toBe('running');
    const swept = await store.sweepTimedOutTasks({ now: T0 + 35_001, heartbeat_timeout_ms: 30_000, limit: 10 });
    expect(swept).toEqual([{ ...fence, timeout_type: 'heartbeat' }]);
    expect(await db.task(store, task.id)).toMatchObject({ status: 'timeout', error: SWEEP_ERRORS.heartbeat });
    expect((await db.events(store, { task_id: task.id })).pop()).toMatchObject({ event_type: 'task_timed_out', metadata: { timeout_type: 'heartbeat', error: SWEEP_ERRORS.heartbeat } });
    expect((await db.attempts(store, { task_id: task.id }))[0]).toMatchObject({ outcome: 'timeout', timeout_flag: true, error: SWEEP_ERRORS.heartbeat });
    expect(await store.heartbeatTasks([fence], T0 + 35_002)).toEqual([task.id]);
    expect((await store.finishAttempt(fence, { kind: 'completed', result: null }, T0 + 35_003)).applied).toBe(false);
  });

  test('sweepTimedOutTasks exhausts tasks without attempts left (async permanently_failed, cron paused)', async () => {
    const store = await open();
    const { task: a } = await createAndClaim(store, { name: 'a', timeout: 1, max_retries: 1 });
    const { task: c } = await createAndClaim(store, { name: 'c', type: 'cron', cron_expr: '* * * * *', timeout: 1, max_retries: 1 });
    const swept = await store.sweepTimedOutTasks({ now: T0 + 1000, heartbeat_timeout_ms: HOUR, limit: 10 });
    expect(swept.map((s) => s.task_id).sort((x, y) => x - y)).toEqual([a.id, c.id].sort((x, y) => x - y));
    expect(await db.task(store, a.id)).toMatchObject({ status: 'permanently_failed', error: SWEEP_ERRORS.total });
    expect((await db.eventTypes(store, a.id)).slice(-2)).toEqual(['task_timed_out', 'task_permanently_failed']);
    expect((await db.events(store, { task_id: a.id })).pop()?.metadata).toMatchObject({ retry_exhausted: true });
    expect(await db.task(store, c.id)).toMatchObject({ status: 'paused' });
    expect((await db.eventTypes(store, c.id)).slice(-2)).toEqual(['task_timed_out', 'task_paused']);
    expect(await store.claimTasks({ worker_id: 'w', now: T0 + 1e9, limit: 10, names: ['a', 'c'] })).toEqual([]);
  });

  test('sweepTimedOutTasks credits the parent of a child it exhausts', async () => {
    const store = await open();
    const { task: parent, fence } = await createAndClaim(store, { name: 'parent' });
    const { child_ids } = await store.finishAttempt(fence, { kind: 'spawned', children: [newChild({ timeout: 1, max_retries: 1 })] }, T0 + 1);
    await claimOne(store, { names: ['child'], now: T0 + 2 });
    await store.sweepTimedOutTasks({ now: T0 + 1002, heartbeat_timeout_ms: HOUR, limit: 10 });
    expect(await store.getTask(parent.id)).toMatchObject({ status: 'pending', stage: 1, completed_children: 1, result: [{ task_id: child_ids[0], error: SWEEP_ERRORS.total }] });
  });

  test('sweepTimedOutTasks respects limit', async () => {
    const store = await open();
    await store.createTasks(Array.from({ length: 5 }, () => newTask({ timeout: 1 })), T0);
    await store.claimTasks({ worker_id: 'w1', now: T0, limit: 5, names: ['job'] });
    expect(await store.sweepTimedOutTasks({ now: T0 + 5000, heartbeat_timeout_ms: HOUR, limit: 2 })).toHaveLength(2);
    expect(await db.tasks(store, { status: 'timeout' })).toHaveLength(2);
    expect(await store.sweepTimedOutTasks({ now: T0 + 5000, heartbeat_timeout_ms: HOUR, limit: 10 })).toHaveLength(3);
  });

  test('sweeping twice or from two peers at once times each task out once', async () => {
    const store = await open();
    const other = await peer(store);
    const ids = await store.createTasks(Array.from({ length: 20 }, () => newTask({ timeout: 1, max_retries: 3 })), T0);
    await store.claimTasks({ worker_id: 'w1', now: T0, limit: 20, names: ['job'] });
    const input = { now: T0 + 2000, heartbeat_timeout_ms: 500, limit: 100 };
    const results = await Promise.all([store.sweepTimedOutTasks(input), other.sweepTimedOutTasks(input), store.sweepTimedOutTasks(input)]);
    const swept: TaskId[] = results.flat().map((s) => s.task_id);
    expect(swept.sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
    expect(await store.sweepTimedOutTasks({ ...input, now: T0 + 3000 })).toEqual([]);
    expect(await db.events(store, { event_type: 'task_timed_out' })).toHaveLength(20);
    for (const id of ids) {
      const attempts = await db.attempts(store, { task_id: id });
      expect(attempts).toHaveLength(1);
      expect(attempts[0].outcome).toBe('timeout');
    }
  });
}
