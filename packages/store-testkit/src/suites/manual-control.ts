import { canTransition, TASK_STATUSES, type Store, type TaskStatus } from '@taskmill/contracts';
import { expect } from 'vitest';
import { claimOne, createAndClaim, createOne, expectApplied, fenceOf, T0, taskInStatus, UNKNOWN_ID } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

const OPERATIONS: { op: 'pauseTask' | 'resumeTask' | 'cancelTask'; to: TaskStatus; event: string; run(store: Store, id: number, now: number): Promise<unknown> }[] = [
  { op: 'pauseTask', to: 'paused', event: 'task_paused', run: (s, id, now) => s.pauseTask(id, now) },
  { op: 'resumeTask', to: 'pending', event: '', run: (s, id, now) => s.resumeTask(id, {}, now) },
  { op: 'cancelTask', to: 'permanently_failed', event: 'task_permanently_failed', run: (s, id, now) => s.cancelTask(id, {}, now) },
];

/** pauseTask / resumeTask / cancelTask (docs/behaviour.md#manual-control, contracts ALLOWED_TRANSITIONS). */
export function defineManualControlTests({ test, open, db }: SuiteContext): void {
  for (const { op, to, event, run } of OPERATIONS) {
    for (const from of TASK_STATUSES) {
      const allowed = canTransition(from, to);
      test(`${op} from ${from} ${allowed ? `moves the task to ${to}` : 'throws InvalidTransitionError and writes nothing'}`, async () => {
        const store = await open();
        const { id } = await taskInStatus(store, from, T0);
        const before = await db.snapshot(store);
        if (!allowed) {
          await expect(run(store, id, T0 + 100)).rejects.toMatchObject({ code: 'TASKMILL_INVALID_TRANSITION' });
          expect(await db.snapshot(store)).toEqual(before);
          return;
        }
        const task = await run(store, id, T0 + 100);
        expect(task).toMatchObject({ id, status: to, last_active_time: T0 + 100 });
        expect(await db.task(store, id)).toEqual(task);
        const evs = await db.events(store, { task_id: id });
        const last = evs[evs.length - 1];
        const expectedEvent = event || (from === 'suspended' ? 'task_resumed' : 'task_status_changed');
        expect(last).toMatchObject({ event_type: expectedEvent, from_status: from, to_status: to, event_time: T0 + 100 });
        expect(evs.length).toBe(before.events.length + 1);
        const attempts = await db.attempts(store, { task_id: id });
        expect(attempts.filter((a) => a.ended_at === null)).toEqual([]);
      });
    }
  }

  test('pause, resume and cancel of an unknown task throw TaskNotFoundError', async () => {
    const store = await open();
    await expect(store.pauseTask(UNKNOWN_ID, T0)).rejects.toMatchObject({ code: 'TASKMILL_TASK_NOT_FOUND' });
    await expect(store.resumeTask(UNKNOWN_ID, {}, T0)).rejects.toMatchObject({ code: 'TASKMILL_TASK_NOT_FOUND' });
    await expect(store.cancelTask(UNKNOWN_ID, {}, T0)).rejects.toMatchObject({ code: 'TASKMILL_TASK_NOT_FOUND' });
  });

  test('pauseTask of a running task closes its attempt as paused and revokes the fence', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store);
    const paused = await store.pauseTask(task.id, T0 + 10);
    expect(paused).toMatchObject({ status: 'paused', last_event_type: 'task_paused' });
    expect(await db.attempts(store, { task_id: task.id })).toEqual([expect.objectContaining({ attempt: 1, outcome: 'paused', ended_at: T0 + 10 })]);
    expect(await store.heartbeatTasks([fence], T0 + 11)).toEqual([task.id]);
    expect((await store.finishAttempt(fence, { kind: 'completed', result: null }, T0 + 12)).applied).toBe(false);
    expect((await db.task(store, task.id))?.status).toBe('paused');
  });

  test('resumeTask of a suspended task advances the stage and writes task_resumed (default reason manual)', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store);
    await expectApplied(store.finishAttempt(fence, { kind: 'suspended', reason: 'approval' }, T0 + 10));
    const resumed = await store.resumeTask(task.id, {}, T0 + 20);
    expect(resumed).toMatchObject({ status: 'pending', stage: 1, retry_count: 0, next_run_time: T0 + 20, suspend_reason: null, result: [] });
    expect((await db.events(store, { task_id: task.id })).pop()).toMatchObject({
      event_type: 'task_resumed',
      from_status: 'suspended',
      to_status: 'pending',
      stage: 1,
      metadata: { resume_reason: 'manual' },
    });
    const again = await claimOne(store, { now: T0 + 20 });
    expect(again).toMatchObject({ stage: 1, attempt: 2 });
    await expectApplied(store.finishAttempt(fenceOf(again), { kind: 'suspended', reason: 'approval 2' }, T0 + 30));
    const resumed2 = await store.resumeTask(task.id, { resume_reason: 'approved by ops' }, T0 + 40);
    expect(resumed2.stage).toBe(2);
    expect((await db.events(store, { task_id: task.id })).pop()?.metadata).toMatchObject({ resume_reason: 'approved by ops' });
  });

  test('resumeTask of a paused task resets stage and retry_count and writes task_status_changed', async () => {
    const store = await open();
    // stage 1 via an explicit suspension, then paused while running
    const { task, fence } = await createAndClaim(store, { max_retries: 5 });
    await expectApplied(store.finishAttempt(fence, { kind: 'suspended', reason: 'r' }, T0 + 1));
    await store.resumeTask(task.id, {}, T0 + 2);
    const staged = await claimOne(store, { now: T0 + 3 });
    expect(staged.stage).toBe(1);
    // retry_count 1 via a failure and a retry claim
    await expectApplied(store.finishAttempt(fenceOf(staged), { kind: 'failed', status: 'failed', error: 'e' }, T0 + 4));
    const retried = await claimOne(store, { now: T0 + 5 });
    expect(retried.retry_count).toBe(1);
    await store.pauseTask(task.id, T0 + 6);
    const resumed = await store.resumeTask(task.id, {}, T0 + 7);
    expect(resumed).toMatchObject({ status: 'pending', stage: 0, retry_count: 0, next_run_time: T0 + 7 });
    const types = await db.eventTypes(store, task.id);
    expect(types[types.length - 1]).toBe('task_status_changed');
    expect(types.filter((t) => t === 'task_resumed')).toHaveLength(1); // only the one from suspended

    // stage reset also when the paused task had a non-zero stage
    const { task: t2, fence: f2 } = await createAndClaim(store, { name: 'staged' });
    await expectApplied(store.finishAttempt(f2, { kind: 'suspended', reason: 'r' }, T0 + 10));
    await store.resumeTask(t2.id, {}, T0 + 11);
    await store.pauseTask(t2.id, T0 + 12);
    expect((await db.task(store, t2.id))?.stage).toBe(1);
    expect(await store.resumeTask(t2.id, {}, T0 + 13)).toMatchObject({ stage: 0, status: 'pending' });
  });

  test('resumeTask of a running task closes the attempt as pending', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store);
    const resumed = await store.resumeTask(task.id, {}, T0 + 5);
    expect(resumed).toMatchObject({ status: 'pending', stage: 0, next_run_time: T0 + 5 });
    expect((await db.attempts(store, { task_id: task.id }))[0]).toMatchObject({ outcome: 'pending', ended_at: T0 + 5 });
    expect((await store.finishAttempt(fence, { kind: 'completed', result: null }, T0 + 6)).applied).toBe(false);
  });

  test('cancelTask sets permanently_failed with the reason or Task cancelled', async () => {
    const store = await open();
    const a = await createOne(store, { name: 'a' });
    const cancelled = await store.cancelTask(a, {}, T0 + 1);
    expect(cancelled).toMatchObject({ status: 'permanently_failed', error: 'Task cancelled' });
    expect((await db.events(store, { task_id: a })).pop()).toMatchObject({
      event_type: 'task_permanently_failed',
      from_status: 'pending',
      to_status: 'permanently_failed',
      metadata: { error: 'Task cancelled', cancelled: true },
    });
    const { id: s } = await taskInStatus(store, 'suspended', T0);
    expect(await store.cancelTask(s, { reason: "no longer needed 'really'" }, T0 + 10)).toMatchObject({ status: 'permanently_failed', error: "no longer needed 'really'" });
    expect(await db.task(store, s)).toMatchObject({ error: "no longer needed 'really'" });
    expect(await store.claimTasks({ worker_id: 'w', now: T0 + 1e9, limit: 10, names: ['a', 'in-suspended'] })).toEqual([]);
  });

  test('cancelTask of a running task closes the attempt as cancelled and revokes the fence', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store);
    await store.cancelTask(task.id, { reason: 'stop it' }, T0 + 3);
    expect((await db.attempts(store, { task_id: task.id }))[0]).toMatchObject({ outcome: 'cancelled', ended_at: T0 + 3 });
    expect(await store.heartbeatTasks([fence], T0 + 4)).toEqual([task.id]);
    expect((await store.finishAttempt(fence, { kind: 'completed', result: null }, T0 + 5)).applied).toBe(false);
    expect(await db.task(store, task.id)).toMatchObject({ status: 'permanently_failed', error: 'stop it' });
  });
}
