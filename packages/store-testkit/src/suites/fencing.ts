import type { Fence, FinishOutcome } from '@taskmill/contracts';
import { expect } from 'vitest';
import { claimOne, createAndClaim, expectApplied, fenceOf, newChild, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/** Every outcome kind, to prove that a stale fence rejects each of them. */
const OUTCOMES: Record<FinishOutcome['kind'], FinishOutcome> = {
  completed: { kind: 'completed', result: '"late"' },
  rescheduled: { kind: 'rescheduled', result: '"late"', next_run_time: T0 + 99_999 },
  failed: { kind: 'failed', status: 'failed', error: 'late failure' },
  suspended: { kind: 'suspended', reason: 'late', context: Buffer.from('late') },
  spawned: { kind: 'spawned', children: [newChild()], context: Buffer.from('late') },
  interrupted: { kind: 'interrupted', reason: 'shutdown_timeout', by_pod_id: null },
  sleep: { kind: 'sleep', wake_at: T0 + 99_999 },
  wait_signal: { kind: 'wait_signal', name: 'late', timeout_at: T0 + 99_999 },
};

/** Ownership fencing (docs/behaviour.md#fencing, #worker-registry). */
export function defineFencingTests({ test, open, db }: SuiteContext): void {
  test('a fence with another worker_id changes nothing, for every outcome kind', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, {}, { worker: 'w1' });
    const before = await db.snapshot(store);
    for (const outcome of Object.values(OUTCOMES)) {
      const res = await store.finishAttempt({ ...fence, worker_id: 'w2' }, outcome, T0 + 10);
      expect(res.applied, `outcome ${outcome.kind}`).toBe(false);
      expect(res.child_ids).toEqual([]);
      expect(res.task?.status).toBe('running');
      expect(res.task?.worker_id).toBe('w1');
    }
    expect(await db.snapshot(store)).toEqual(before);
    // the real owner still can finish
    await expectApplied(store.finishAttempt(fence, { kind: 'completed', result: null }, T0 + 20));
    expect((await db.task(store, task.id))?.status).toBe('completed');
  });

  test('a fence with an old attempt number changes nothing after the same worker reclaimed the task', async () => {
    const store = await open();
    const { task, fence: oldFence } = await createAndClaim(store, {}, { worker: 'w1' });
    await store.pauseTask(task.id, T0 + 10);
    await store.resumeTask(task.id, {}, T0 + 20);
    const reclaimed = await claimOne(store, { worker: 'w1', now: T0 + 30 });
    expect(reclaimed.attempt).toBe(2);
    const newFence = fenceOf(reclaimed);
    expect(newFence).toEqual({ ...oldFence, attempt: 2 });
    const before = await db.snapshot(store);
    for (const outcome of Object.values(OUTCOMES)) {
      const res = await store.finishAttempt(oldFence, outcome, T0 + 40);
      expect(res.applied, `outcome ${outcome.kind}`).toBe(false);
    }
    expect(await store.heartbeatTasks([oldFence], T0 + 41)).toEqual([task.id]);
    await expect(
      store.recordTaskNote(task.id, oldFence, { event_type: 'task_checkpoint', message: 'stale', metadata: { code: 'stale' } }, T0 + 42),
    ).rejects.toMatchObject({ code: 'TASKMILL_NOT_OWNER' });
    expect(await db.snapshot(store)).toEqual(before);
    const done = await expectApplied(store.finishAttempt(newFence, { kind: 'completed', result: '"ok"' }, T0 + 50));
    expect(done).toMatchObject({ status: 'completed', result: 'ok', attempt: 2 });
  });

  test('a fence of a finished attempt cannot finish the task twice', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store);
    await expectApplied(store.finishAttempt(fence, { kind: 'completed', result: '"first"' }, T0 + 10));
    const before = await db.snapshot(store);
    for (const outcome of Object.values(OUTCOMES)) {
      expect((await store.finishAttempt(fence, outcome, T0 + 20)).applied, `outcome ${outcome.kind}`).toBe(false);
    }
    expect(await db.snapshot(store)).toEqual(before);
    expect((await store.getTask(task.id))?.result).toBe('first');
  });

  test('a fence for a task id the worker never claimed changes nothing', async () => {
    const store = await open();
    const { fence } = await createAndClaim(store, { name: 'a' });
    const { task: other } = await createAndClaim(store, { name: 'b' }, { worker: 'w2' });
    const forged: Fence = { ...fence, task_id: other.id };
    const before = await db.snapshot(store);
    expect((await store.finishAttempt(forged, OUTCOMES.completed, T0 + 5)).applied).toBe(false);
    expect(await db.snapshot(store)).toEqual(before);
  });
}
