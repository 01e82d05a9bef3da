import { TaskFinishedError, TaskNotFoundError } from '@taskmill/contracts';
import { expect } from 'vitest';
import { createAndClaim, createOne, expectApplied, fenceOf, claimOne, T0, taskInStatus, UNKNOWN_ID } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

const MINUTE = 60_000;

/** Durable sleep and signals: the `sleep` and `wait_signal` outcomes, sendSignal, wakeDueTasks (docs/behaviour.md#durable-sleep, #signals). */
export function defineWaitTests({ test, open, peer, db }: SuiteContext): void {
  test('a sleep suspends the task until wake_at; wakeDueTasks resumes it at stage + 1 with events on both ends', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, {}, { now: T0 });
    const slept = await expectApplied(store.finishAttempt(fence, { kind: 'sleep', wake_at: T0 + MINUTE }, T0 + 10));
    expect(slept).toMatchObject({ status: 'suspended', suspend_reason: 'sleep', wake_at: T0 + MINUTE, next_run_time: T0 + MINUTE, stage: 0 });
    expect((await db.attempts(store, { task_id: task.id }))[0]).toMatchObject({ outcome: 'suspended', ended_at: T0 + 10 });
    expect((await db.events(store, { task_id: task.id })).pop()).toMatchObject({
      event_type: 'task_suspended',
      from_status: 'running',
      to_status: 'suspended',
      metadata: { suspend_reason: 'sleep', wake_at: T0 + MINUTE },
    });
    // holds no slot and is never claimed, not even past its due time
    expect(await store.claimTasks({ worker_id: 'w2', now: T0 + 2 * MINUTE, limit: 5, names: ['job'] })).toEqual([]);
    // not due yet: nothing changes, and the caller learns when to come back
    const before = await db.snapshot(store);
    expect(await store.wakeDueTasks({ now: T0 + MINUTE - 1, limit: 10 })).toEqual({ woken: [], next_wake_at: T0 + MINUTE });
    expect(await db.snapshot(store)).toEqual(before);
    expect(await store.wakeDueTasks({ now: T0 + MINUTE + 5, limit: 10 })).toEqual({ woken: [task.id], next_wake_at: null });
    expect(await db.task(store, task.id)).toMatchObject({ status: 'pending', stage: 1, wake_at: null, suspend_reason: null, next_run_time: T0 + MINUTE + 5 });
    expect((await db.events(store, { task_id: task.id })).pop()).toMatchObject({
      event_type: 'task_resumed',
      from_status: 'suspended',
      to_status: 'pending',
      stage: 1,
      event_time: T0 + MINUTE + 5,
      metadata: { resume_reason: 'sleep_elapsed', wake_at: T0 + MINUTE },
    });
    expect(await store.wakeDueTasks({ now: T0 + 2 * MINUTE, limit: 10 })).toEqual({ woken: [], next_wake_at: null });
    expect(await claimOne(store, { now: T0 + MINUTE + 6 })).toMatchObject({ id: task.id, stage: 1 });
  });

  test('wakeDueTasks wakes the earliest first, at most limit, and leaves other suspended tasks alone', async () => {
    const store = await open();
    const a = await createAndClaim(store, { name: 'a' });
    const b = await createAndClaim(store, { name: 'b' });
    const c = await createAndClaim(store, { name: 'c' });
    const manual = await taskInStatus(store, 'suspended');
    await expectApplied(store.finishAttempt(a.fence, { kind: 'sleep', wake_at: T0 + 3 * MINUTE }, T0 + 1));
    await expectApplied(store.finishAttempt(b.fence, { kind: 'sleep', wake_at: T0 + MINUTE }, T0 + 1));
    await expectApplied(store.finishAttempt(c.fence, { kind: 'wait_signal', name: 'go', timeout_at: T0 + 2 * MINUTE }, T0 + 1));
    expect(await store.wakeDueTasks({ now: T0 + 10 * MINUTE, limit: 2 })).toEqual({ woken: [b.task.id, c.task.id], next_wake_at: T0 + 3 * MINUTE });
    expect(await store.wakeDueTasks({ now: T0 + 10 * MINUTE, limit: 2 })).toEqual({ woken: [a.task.id], next_wake_at: null });
    expect(await db.task(store, manual.id)).toMatchObject({ status: 'suspended', suspend_reason: 'review' });
  });

  test('a signal wait times out at timeout_at: the task resumes with received_signal.timed_out', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store);
    const waiting = await expectApplied(store.finishAttempt(fence, { kind: 'wait_signal', name: 'shipped', timeout_at: T0 + MINUTE }, T0 + 1));
    expect(waiting).toMatchObject({ status: 'suspended', suspend_reason: 'signal', awaited_signal: 'shipped', wake_at: T0 + MINUTE });
    expect(await store.wakeDueTasks({ now: T0 + MINUTE, limit: 10 })).toEqual({ woken: [task.id], next_wake_at: null });
    expect(await db.task(store, task.id)).toMatchObject({
      status: 'pending',
      stage: 1,
      awaited_signal: null,
      wake_at: null,
      received_signal: { name: 'shipped', timed_out: true, data: null, signal_id: null, sent_at: null },
    });
    expect((await db.events(store, { task_id: task.id })).pop()).toMatchObject({ event_type: 'task_resumed', metadata: { resume_reason: 'signal_timeout', signal: 'shipped' } });
    // a signal sent later is kept for a later wait, and resumes nothing
    expect(await store.sendSignal(task.id, 'shipped', '"late"', T0 + MINUTE + 1)).toMatchObject({ resumed: false });
    expect((await db.task(store, task.id))?.status).toBe('pending');
  });

  test('a signal sent to a waiting task resumes it at stage + 1 with the data, and is consumed', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store);
    await expectApplied(store.finishAttempt(fence, { kind: 'wait_signal', name: 'shipped', timeout_at: null }, T0 + 1));
    expect(await db.task(store, task.id)).toMatchObject({ status: 'suspended', awaited_signal: 'shipped', wake_at: null });
    expect(await store.wakeDueTasks({ now: T0 + 1000 * MINUTE, limit: 10 })).toEqual({ woken: [], next_wake_at: null });
    // another name is kept and changes nothing
    const other = await store.sendSignal(task.id, 'other', null, T0 + 5);
    expect(other.resumed).toBe(false);
    expect((await db.task(store, task.id))?.status).toBe('suspended');
    const sent = await store.sendSignal(task.id, 'shipped', JSON.stringify({ tracking: 'X1' }), T0 + 10);
    expect(sent.resumed).toBe(true);
    expect(await db.task(store, task.id)).toMatchObject({
      status: 'pending',
      stage: 1,
      next_run_time: T0 + 10,
      awaited_signal: null,
      suspend_reason: null,
      received_signal: { name: 'shipped', timed_out: false, data: { tracking: 'X1' }, signal_id: sent.signal_id, sent_at: T0 + 10 },
    });
    expect(await db.signals(store, { task_id: task.id })).toEqual([
      { id: other.signal_id, task_id: task.id, name: 'other', data: null, sent_at: T0 + 5, consumed_at: null },
      { id: sent.signal_id, task_id: task.id, name: 'shipped', data: '{"tracking":"X1"}', sent_at: T0 + 10, consumed_at: T0 + 10 },
    ]);
    const events = (await db.events(store, { task_id: task.id })).slice(-3);
    expect(events.map((e) => [e.event_type, e.metadata])).toEqual([
      ['task_signal_received', { signal: 'other', signal_id: other.signal_id, resumed: false }],
      ['task_signal_received', { signal: 'shipped', signal_id: sent.signal_id, resumed: true }],
      ['task_resumed', expect.objectContaining({ resume_reason: 'signal', signal: 'shipped', signal_id: sent.signal_id })],
    ]);
    // the signal stays readable through later stages (a sleep) until the next signal wait starts
    const received = (await db.task(store, task.id))?.received_signal;
    const stage1 = await claimOne(store, { now: T0 + 20 });
    await expectApplied(store.finishAttempt(fenceOf(stage1), { kind: 'sleep', wake_at: T0 + 30 }, T0 + 21));
    expect((await db.task(store, task.id))?.received_signal).toEqual(received);
    await store.wakeDueTasks({ now: T0 + 30, limit: 10 });
    const stage2 = await claimOne(store, { now: T0 + 31 });
    expect(stage2).toMatchObject({ stage: 2, received_signal: received });
    await expectApplied(store.finishAttempt(fenceOf(stage2), { kind: 'wait_signal', name: 'shipped', timeout_at: null }, T0 + 32));
    expect(await db.task(store, task.id)).toMatchObject({ status: 'suspended', received_signal: null });
  });

  test('a signal sent before the wait is kept; the wait takes the oldest at once and the task goes on', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store);
    const first = await store.sendSignal(task.id, 'shipped', '1', T0 + 1);
    const second = await store.sendSignal(task.id, 'shipped', '2', T0 + 2);
    expect(first.resumed).toBe(false);
    expect((await db.task(store, task.id))?.status).toBe('running');
    const after = await expectApplied(store.finishAttempt(fence, { kind: 'wait_signal', name: 'shipped', timeout_at: T0 + MINUTE }, T0 + 3));
    expect(after).toMatchObject({ status: 'pending', stage: 1, wake_at: null, awaited_signal: null, received_signal: { name: 'shipped', data: 1, signal_id: first.signal_id, timed_out: false } });
    expect((await db.attempts(store, { task_id: task.id }))[0]).toMatchObject({ outcome: 'suspended' });
    expect((await db.events(store, { task_id: task.id })).slice(-2).map((e) => [e.event_type, e.metadata?.resume_reason ?? e.metadata?.suspend_reason])).toEqual([
      ['task_suspended', 'signal'],
      ['task_resumed', 'signal'],
    ]);
    // the next wait of the name takes the second
    const again = await claimOne(store, { now: T0 + 4 });
    const next = await expectApplied(store.finishAttempt(fenceOf(again), { kind: 'wait_signal', name: 'shipped', timeout_at: null }, T0 + 5));
    expect(next).toMatchObject({ status: 'pending', stage: 2, received_signal: { data: 2, signal_id: second.signal_id } });
    expect((await db.signals(store, { task_id: task.id })).map((s) => s.consumed_at)).toEqual([T0 + 3, T0 + 5]);
  });

  test('sendSignal to an unknown or finished task is a typed error and writes nothing', async () => {
    const store = await open();
    const done = await taskInStatus(store, 'completed');
    const failed = await taskInStatus(store, 'permanently_failed');
    const before = await db.snapshot(store);
    await expect(store.sendSignal(UNKNOWN_ID, 'go', null, T0 + 10)).rejects.toBeInstanceOf(TaskNotFoundError);
    await expect(store.sendSignal(done.id, 'go', null, T0 + 10)).rejects.toBeInstanceOf(TaskFinishedError);
    await expect(store.sendSignal(failed.id, 'go', null, T0 + 10)).rejects.toMatchObject({ code: 'TASKMILL_TASK_FINISHED' });
    expect(await db.snapshot(store)).toEqual(before);
  });

  test('resumeTask ends a sleep or a signal wait early at stage + 1; cancelTask ends it for good', async () => {
    const store = await open();
    const a = await createAndClaim(store, { name: 'a' });
    const b = await createAndClaim(store, { name: 'b' });
    await expectApplied(store.finishAttempt(a.fence, { kind: 'sleep', wake_at: T0 + MINUTE }, T0 + 1));
    await expectApplied(store.finishAttempt(b.fence, { kind: 'wait_signal', name: 'go', timeout_at: T0 + MINUTE }, T0 + 1));
    await expect(store.pauseTask(a.task.id, T0 + 2)).rejects.toMatchObject({ code: 'TASKMILL_INVALID_TRANSITION' });
    expect(await store.resumeTask(a.task.id, {}, T0 + 3)).toMatchObject({ status: 'pending', stage: 1, wake_at: null, suspend_reason: null });
    expect(await store.cancelTask(b.task.id, {}, T0 + 3)).toMatchObject({ status: 'permanently_failed', wake_at: null, awaited_signal: null });
    expect(await store.wakeDueTasks({ now: T0 + 2 * MINUTE, limit: 10 })).toEqual({ woken: [], next_wake_at: null });
    await expect(store.sendSignal(b.task.id, 'go', null, T0 + 4)).rejects.toBeInstanceOf(TaskFinishedError);
  });

  test('a signal and the wait for it racing from two connections: the signal is never lost', async () => {
    const store = await open();
    const other = await peer(store);
    for (let round = 0; round < 15; round++) {
      const now = T0 + round * 10;
      const id = await createOne(store, { name: `race-${round}`, next_run_time: now }, now);
      const task = await claimOne(store, { names: [`race-${round}`], now });
      const [sent] = await Promise.all([
        other.sendSignal(id, 'go', String(round), now + 1),
        store.finishAttempt(fenceOf(task), { kind: 'wait_signal', name: 'go', timeout_at: null }, now + 1),
      ]);
      const after = await db.task(store, id);
      expect(after, `round ${round}`).toMatchObject({ status: 'pending', stage: 1, received_signal: { data: round, signal_id: sent.signal_id } });
      expect((await db.signals(store, { task_id: id }))[0].consumed_at, `round ${round}`).toBe(now + 1);
    }
  });

  test('deleting a task deletes its signals', async () => {
    const store = await open();
    const kept = await createOne(store, { name: 'kept' });
    const { task, fence } = await createAndClaim(store);
    await store.sendSignal(task.id, 'go', null, T0 + 1);
    await store.sendSignal(kept, 'go', null, T0 + 1);
    await expectApplied(store.finishAttempt(fence, { kind: 'completed', result: null }, T0 + 2));
    expect(await store.deleteTasks({ status: 'completed' })).toBe(1);
    expect(await db.signals(store, { task_id: task.id })).toEqual([]);
    expect(await db.signals(store, { task_id: kept })).toHaveLength(1);
  });
}
