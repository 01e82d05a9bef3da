import { canRetry, TASK_STATUSES } from '@taskmill/contracts';
import { expect } from 'vitest';
import { claimOne, createAndClaim, expectApplied, fenceOf, newChild, T0, taskInStatus, UNKNOWN_ID } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/** retryTask: the operator's "run it again" (contracts RETRYABLE_STATUSES / canRetry). */
export function defineManualRetryTests({ test, open, db }: SuiteContext): void {
  for (const from of TASK_STATUSES) {
    const allowed = canRetry({ status: from, parent_id: null });
    test(`retryTask from ${from} ${allowed ? 'moves the task to pending, due now' : 'throws InvalidTransitionError and writes nothing'}`, async () => {
      const store = await open();
      const { id } = await taskInStatus(store, from, T0);
      const before = await db.snapshot(store);
      const beforeTask = (await db.task(store, id))!;
      if (!allowed) {
        await expect(store.retryTask(id, T0 + 100)).rejects.toMatchObject({ code: 'TASKMILL_INVALID_TRANSITION' });
        expect(await db.snapshot(store)).toEqual(before);
        return;
      }
      const task = await store.retryTask(id, T0 + 100);
      const retryCount = from === 'permanently_failed' ? 0 : beforeTask.retry_count + 1;
      expect(task).toMatchObject({ id, status: 'pending', stage: 0, next_run_time: T0 + 100, last_active_time: T0 + 100, retry_count: retryCount, result: null });
      expect(await db.task(store, id)).toEqual(task);
      const evs = await db.events(store, { task_id: id });
      expect(evs.length).toBe(before.events.length + 1);
      expect(evs[evs.length - 1]).toMatchObject({
        event_type: 'task_retry_scheduled',
        from_status: from,
        to_status: 'pending',
        stage: 0,
        event_time: T0 + 100,
        metadata: { retry_count: retryCount, previous_status: from, manual: true },
      });
      expect(task).toMatchObject({ last_event_type: 'task_retry_scheduled', last_event_time: T0 + 100 });
      // claimable at once, long before the failed task's retry_interval (60 s) would have passed
      const claimed = await claimOne(store, { names: [`in-${from}`], now: T0 + 101 });
      expect(claimed).toMatchObject({ id, status: 'running', retry_count: retryCount });
      const types = await db.eventTypes(store, id);
      // the claim does not schedule the retry a second time
      expect(types.filter((t) => t === 'task_retry_scheduled')).toHaveLength(1);
    });
  }

  test('retryTask of a permanently failed task gives it its full attempts again', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { max_retries: 2, retry_interval: 0 });
    await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'e1' }, T0 + 1));
    const second = await claimOne(store, { now: T0 + 2 });
    await expectApplied(store.finishAttempt(fenceOf(second), { kind: 'failed', status: 'failed', error: 'e2' }, T0 + 3));
    expect((await db.task(store, task.id))?.status).toBe('permanently_failed');
    await store.retryTask(task.id, T0 + 4);
    const third = await claimOne(store, { now: T0 + 5 });
    expect(third).toMatchObject({ retry_count: 0, attempt: 3 });
    // a failure now has an attempt left again (max_retries 2, retry_count 0)
    const failed = await expectApplied(store.finishAttempt(fenceOf(third), { kind: 'failed', status: 'failed', error: 'e3' }, T0 + 6));
    expect(failed.status).toBe('failed');
  });

  test('retryTask refuses a permanently failed workflow child (already credited to its parent) and writes nothing', async () => {
    const store = await open();
    const { fence } = await createAndClaim(store, { name: 'parent' });
    const res = await store.finishAttempt(fence, { kind: 'spawned', children: [newChild({ max_retries: 1 }), newChild()] }, T0 + 1);
    const [childId] = res.child_ids;
    await store.cancelTask(childId, {}, T0 + 2);
    const before = await db.snapshot(store);
    await expect(store.retryTask(childId, T0 + 3)).rejects.toMatchObject({ code: 'TASKMILL_INVALID_TRANSITION' });
    expect(await db.snapshot(store)).toEqual(before);
  });

  test('retryTask of a failed workflow child brings its retry forward', async () => {
    const store = await open();
    const { fence } = await createAndClaim(store, { name: 'parent' });
    const res = await store.finishAttempt(fence, { kind: 'spawned', children: [newChild({ max_retries: 3, retry_interval: 3600 })] }, T0 + 1);
    const child = await claimOne(store, { names: ['child'], now: T0 + 2 });
    await expectApplied(store.finishAttempt(fenceOf(child), { kind: 'failed', status: 'failed', error: 'boom' }, T0 + 3));
    const retried = await store.retryTask(res.child_ids[0], T0 + 4);
    expect(retried).toMatchObject({ status: 'pending', retry_count: 1, next_run_time: T0 + 4, parent_id: res.task!.id });
  });

  test('retryTask of an unknown or malformed id throws TaskNotFoundError and writes nothing', async () => {
    const store = await open();
    await taskInStatus(store, 'failed', T0);
    const before = await db.snapshot(store);
    await expect(store.retryTask(UNKNOWN_ID, T0)).rejects.toMatchObject({ code: 'TASKMILL_TASK_NOT_FOUND' });
    await expect(store.retryTask('1 OR 1=1' as never, T0)).rejects.toMatchObject({ code: 'TASKMILL_TASK_NOT_FOUND' });
    expect(await db.snapshot(store)).toEqual(before);
  });
}
