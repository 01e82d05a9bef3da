import { expect } from 'vitest';
import { claimOne, createAndClaim, expectApplied, fenceOf, T0, UNKNOWN_ID } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/** finishAttempt success paths and interruption (store.ts FinishOutcome). */
export function defineFinishTests({ test, open, db }: SuiteContext): void {
  test('finishAttempt completed stores the result, closes the attempt and writes task_completed', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store);
    const res = await store.finishAttempt(fence, { kind: 'completed', result: JSON.stringify({ ok: true, s: 'ü 🚀', n: [1, 2] }) }, T0 + 40);
    expect(res.applied).toBe(true);
    expect(res.child_ids).toEqual([]);
    expect(res.task).toMatchObject({
      id: task.id,
      status: 'completed',
      result: { ok: true, s: 'ü 🚀', n: [1, 2] },
      worker_id: 'w1',
      last_active_time: T0 + 40,
      last_event_type: 'task_completed',
      last_event_time: T0 + 40,
      attempt: 1,
    });
    expect(await store.getTask(task.id)).toEqual(res.task);
    expect(await db.task(store, task.id)).toEqual(res.task);
    expect(await db.attempts(store, { task_id: task.id })).toEqual([
      expect.objectContaining({ attempt: 1, ended_at: T0 + 40, outcome: 'completed', error: null, timeout_flag: false }),
    ]);
    const evs = await db.events(store, { task_id: task.id });
    expect(evs[evs.length - 1]).toMatchObject({ event_type: 'task_completed', from_status: 'running', to_status: 'completed', worker_id: 'w1', event_time: T0 + 40 });
    expect(await store.claimTasks({ worker_id: 'w1', now: T0 + 1e9, limit: 5, names: ['job'] })).toEqual([]);
  });

  test('finishAttempt completed with a null result decodes to null', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store);
    await expectApplied(store.finishAttempt(fence, { kind: 'completed', result: null }, T0 + 1));
    expect((await store.getTask(task.id))?.result).toBeNull();
  });

  test('finishAttempt rescheduled (cron success) returns the task to pending and resets retry_count', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { type: 'cron', cron_expr: '0 * * * *', max_retries: 3 });
    await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'flaky' }, T0 + 10));
    const retry = await claimOne(store, { now: T0 + 10 });
    expect(retry.retry_count).toBe(1);
    const next = T0 + 3_600_000;
    const after = await expectApplied(store.finishAttempt(fenceOf(retry), { kind: 'rescheduled', result: '"tick"', next_run_time: next }, T0 + 20));
    expect(after).toMatchObject({ id: task.id, status: 'pending', next_run_time: next, stage: 0, retry_count: 0, result: 'tick', type: 'cron' });
    expect(await db.task(store, task.id)).toEqual(after);
    const last = (await db.events(store, { task_id: task.id })).pop();
    expect(last).toMatchObject({ event_type: 'task_status_changed', from_status: 'running', to_status: 'pending', stage: 0, metadata: { next_run_time: next } });
    const attempts = await db.attempts(store, { task_id: task.id });
    expect(attempts[1]).toMatchObject({ attempt: 2, outcome: 'completed', ended_at: T0 + 20 });
    expect(await store.claimTasks({ worker_id: 'w1', now: next - 1, limit: 5, names: ['job'] })).toEqual([]);
    const again = await claimOne(store, { now: next });
    expect(again).toMatchObject({ attempt: 3, retry_count: 0 });
  });

  test('finishAttempt interrupted returns the task to pending without consuming a retry', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { max_retries: 2 });
    const after = await expectApplied(store.finishAttempt(fence, { kind: 'interrupted', reason: 'shutdown_timeout', by_pod_id: 'pod-a' }, T0 + 30));
    expect(after).toMatchObject({ status: 'pending', stage: 0, retry_count: 0, next_run_time: T0 + 30 });
    expect((await db.attempts(store, { task_id: task.id }))[0]).toMatchObject({ outcome: 'interrupted', ended_at: T0 + 30 });
    expect((await db.events(store, { task_id: task.id })).pop()).toMatchObject({
      event_type: 'task_recovered',
      from_status: 'running',
      to_status: 'pending',
      metadata: { recovery_reason: 'shutdown_timeout', recovered_from_worker_id: fence.worker_id, recovered_by_worker_id: fence.worker_id, recovered_by_pod_id: 'pod-a' },
    });
    const again = await claimOne(store, { now: T0 + 30 });
    expect(again).toMatchObject({ attempt: 2, retry_count: 0 });
  });

  test('finishAttempt on an unknown task is not applied', async () => {
    const store = await open();
    const res = await store.finishAttempt({ task_id: UNKNOWN_ID, worker_id: 'w1', attempt: 1 }, { kind: 'completed', result: null }, T0);
    expect(res).toEqual({ applied: false, task: null, child_ids: [] });
  });
}
