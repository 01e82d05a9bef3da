import { expect } from 'vitest';
import { claimOne, createAndClaim, expectApplied, fenceOf, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

/** Failures, retries and exhaustion (docs/behaviour.md#retries; store.ts FinishOutcome `failed`). */
export function defineRetryTests({ test, open, db }: SuiteContext): void {
  test('a failed attempt with attempts left stays failed until now + retry_interval', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { max_retries: 3, retry_interval: 30 });
    const res = await store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'Error: boom\n    at x' }, T0 + 100);
    expect(res.applied).toBe(true);
    expect(res.child_ids).toEqual([]);
    expect(res.task).toMatchObject({
      id: task.id,
      status: 'failed',
      error: 'Error: boom\n    at x',
      next_run_time: T0 + 100 + 30_000,
      retry_count: 0,
      worker_id: 'w1',
      last_event_type: 'task_failed',
    });
    expect(await db.task(store, task.id)).toEqual(res.task);
    const [attempt] = await db.attempts(store, { task_id: task.id });
    expect(attempt).toMatchObject({ attempt: 1, ended_at: T0 + 100, outcome: 'failed', error: 'Error: boom\n    at x', timeout_flag: false });
    const evs = await db.events(store, { task_id: task.id });
    expect(evs.map((e) => e.event_type)).toEqual(['task_created', 'task_claimed', 'task_started', 'task_failed']);
    expect(evs[3]).toMatchObject({ from_status: 'running', to_status: 'failed', event_time: T0 + 100, metadata: { error: 'Error: boom\n    at x' } });

    expect(await store.claimTasks({ worker_id: 'w2', now: T0 + 30_099, limit: 5, names: ['job'] })).toEqual([]);
    expect((await db.task(store, task.id))?.status).toBe('failed');
  });

  test('a failed task is claimed as a retry at its next_run_time', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { max_retries: 3, retry_interval: 30 });
    await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'Error: boom' }, T0 + 100));
    const eventCount = (await db.events(store, { task_id: task.id })).length;
    const retried = await claimOne(store, { worker: 'w2', now: T0 + 30_100 });
    expect(retried).toMatchObject({ id: task.id, status: 'running', retry_count: 1, attempt: 2, stage: 0, worker_id: 'w2', start_time: T0 + 30_100 });
    const newEvents = (await db.events(store, { task_id: task.id })).slice(eventCount);
    expect(newEvents.map((e) => e.event_type)).toEqual(['task_retry_scheduled', 'task_claimed', 'task_started', 'task_retry_started']);
    expect(newEvents[0]).toMatchObject({ from_status: 'failed', to_status: 'pending', stage: 0, metadata: { retry_count: 1, previous_status: 'failed' } });
    expect(newEvents[2]).toMatchObject({ attempt: 2, worker_id: 'w2', metadata: { retry_count: 1 } });
    expect(newEvents[3]).toMatchObject({ attempt: 2, worker_id: 'w2', metadata: { retry_count: 1 } });
    const attempts = await db.attempts(store, { task_id: task.id });
    expect(attempts.map((a) => [a.attempt, a.outcome, a.worker_id])).toEqual([
      [1, 'failed', 'w1'],
      [2, null, 'w2'],
    ]);
  });

  test('retries stop after max_retries executions (async → permanently_failed)', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { max_retries: 2, retry_interval: 0 });
    await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'e1' }, T0 + 10));
    const second = await claimOne(store, { now: T0 + 20 });
    const after = await expectApplied(store.finishAttempt(fenceOf(second), { kind: 'failed', status: 'failed', error: 'e2' }, T0 + 30));
    expect(after).toMatchObject({ id: task.id, status: 'permanently_failed', error: 'e2', retry_count: 1 });
    expect(await store.claimTasks({ worker_id: 'w1', now: T0 + 1e9, limit: 5, names: ['job'] })).toEqual([]);
    expect(await db.attempts(store, { task_id: task.id })).toHaveLength(2);
  });

  test('max_retries=1: an async task is permanently_failed after its first failure', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { max_retries: 1, retry_interval: 5 });
    const after = await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'Error: final' }, T0 + 10));
    expect(after).toMatchObject({ status: 'permanently_failed', error: 'Error: final', last_event_type: 'task_permanently_failed' });
    expect(await db.task(store, task.id)).toEqual(after);
    const evs = await db.events(store, { task_id: task.id });
    expect(evs.slice(-2).map((e) => e.event_type)).toEqual(['task_failed', 'task_permanently_failed']);
    expect(evs[evs.length - 1]).toMatchObject({ from_status: 'failed', to_status: 'permanently_failed', metadata: { retry_exhausted: true, error: 'Error: final' } });
    expect((await db.attempts(store, { task_id: task.id }))[0]).toMatchObject({ outcome: 'failed', error: 'Error: final', ended_at: T0 + 10 });
    expect(await store.claimTasks({ worker_id: 'w1', now: T0 + 1e9, limit: 5, names: ['job'] })).toEqual([]);
  });

  test('max_retries=0 also means exactly one execution', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { max_retries: 0 });
    const after = await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'x' }, T0 + 10));
    expect(after.status).toBe('permanently_failed');
    expect(await store.claimTasks({ worker_id: 'w1', now: T0 + 1e9, limit: 5, names: ['job'] })).toEqual([]);
    expect(await db.attempts(store, { task_id: task.id })).toHaveLength(1);
  });

  test('an exhausted cron task is paused with task_paused (retry_exhausted)', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { type: 'cron', cron_expr: '* * * * *', max_retries: 1 });
    const after = await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'cron broke' }, T0 + 10));
    expect(after).toMatchObject({ status: 'paused', error: 'cron broke' });
    const evs = await db.events(store, { task_id: task.id });
    expect(evs.slice(-2).map((e) => e.event_type)).toEqual(['task_failed', 'task_paused']);
    expect(evs[evs.length - 1]).toMatchObject({ from_status: 'failed', to_status: 'paused', metadata: { retry_exhausted: true } });
    expect(await store.claimTasks({ worker_id: 'w1', now: T0 + 1e9, limit: 5, names: ['job'] })).toEqual([]);
  });

  test('a timeout outcome records task_timed_out and a timeout attempt, then retries from timeout', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { max_retries: 2, retry_interval: 1 });
    const after = await expectApplied(
      store.finishAttempt(fence, { kind: 'failed', status: 'timeout', error: 'Task execution timeout', timeout_type: 'check' }, T0 + 10),
    );
    expect(after).toMatchObject({ status: 'timeout', error: 'Task execution timeout', next_run_time: T0 + 1010 });
    const evs = await db.events(store, { task_id: task.id });
    expect(evs[evs.length - 1]).toMatchObject({ event_type: 'task_timed_out', from_status: 'running', to_status: 'timeout', metadata: { timeout_type: 'check' } });
    expect((await db.attempts(store, { task_id: task.id }))[0]).toMatchObject({ outcome: 'timeout', timeout_flag: true, error: 'Task execution timeout' });
    expect(await store.claimTasks({ worker_id: 'w1', now: T0 + 1009, limit: 5, names: ['job'] })).toEqual([]);
    const retried = await claimOne(store, { now: T0 + 1010 });
    expect(retried).toMatchObject({ retry_count: 1, attempt: 2 });
    const scheduled = (await db.events(store, { task_id: task.id, event_type: 'task_retry_scheduled' }))[0];
    expect(scheduled?.metadata).toMatchObject({ retry_count: 1, previous_status: 'timeout' });
    // the second timeout exhausts: async → permanently_failed
    const final = await expectApplied(store.finishAttempt(fenceOf(retried), { kind: 'failed', status: 'timeout', error: 'again', timeout_type: 'check' }, T0 + 2000));
    expect(final.status).toBe('permanently_failed');
    expect((await db.eventTypes(store, task.id)).slice(-2)).toEqual(['task_timed_out', 'task_permanently_failed']);
  });
  test('an exponential backoff doubles each wait from retry_interval up to retry_max_interval, persisted and shown in events', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { max_retries: 5, retry_interval: 10, retry_backoff: 'exponential', retry_max_interval: 25 });
    expect(task).toMatchObject({ retry_backoff: 'exponential', retry_max_interval: 25, retry_jitter: 0 });
    expect(await db.task(store, task.id)).toMatchObject({ retry_backoff: 'exponential', retry_max_interval: 25, retry_jitter: 0 });
    let now = T0 + 100;
    let current = fence;
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      const failed = await expectApplied(store.finishAttempt(current, { kind: 'failed', status: 'failed', error: `e${i}` }, now));
      waits.push(failed.next_run_time - now);
      const event = (await db.events(store, { task_id: task.id })).pop()!;
      expect(event).toMatchObject({ event_type: 'task_failed', metadata: { next_run_time: failed.next_run_time, retry_delay: waits[i] / 1000, retry_backoff: 'exponential', retry_count: i } });
      // not a millisecond early (docs/behaviour.md#retries), then claimable
      expect(await store.claimTasks({ worker_id: 'w1', now: failed.next_run_time - 1, limit: 5, names: ['job'] })).toEqual([]);
      now = failed.next_run_time;
      current = fenceOf(await claimOne(store, { now }));
      now += 5;
    }
    expect(waits).toEqual([10_000, 20_000, 25_000]);
  });

  test('a fixed backoff with retry_jitter waits a random part of retry_interval, never longer', async () => {
    const store = await open();
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      const { fence } = await createAndClaim(store, { name: `j${i}`, max_retries: 2, retry_interval: 100, retry_jitter: 0.5 });
      const failed = await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'failed', error: 'e' }, T0 + 1));
      waits.push(failed.next_run_time - (T0 + 1));
      const event = (await db.events(store, { task_id: fence.task_id })).pop()!;
      expect(event.metadata).toMatchObject({ retry_delay: waits[i] / 1000, retry_backoff: 'fixed' });
    }
    for (const wait of waits) {
      expect(wait).toBeGreaterThanOrEqual(50_000);
      expect(wait).toBeLessThanOrEqual(100_000);
    }
    // randomised: eight draws are not all the same
    expect(new Set(waits).size).toBeGreaterThan(1);
  });

  test('the timeout sweep schedules its retry with the task\'s backoff too', async () => {
    const store = await open();
    const { task, fence } = await createAndClaim(store, { timeout: 1, max_retries: 4, retry_interval: 3, retry_backoff: 'exponential' });
    await expectApplied(store.finishAttempt(fence, { kind: 'failed', status: 'timeout', error: 'slow', timeout_type: 'check' }, T0 + 10));
    const second = await claimOne(store, { now: T0 + 10 + 3_000 });
    const swept = await store.sweepTimedOutTasks({ now: second.start_time! + 1_000, heartbeat_timeout_ms: 3_600_000, limit: 10 });
    expect(swept.map((t) => t.task_id)).toEqual([task.id]);
    expect(await db.task(store, task.id)).toMatchObject({ status: 'timeout', next_run_time: second.start_time! + 1_000 + 6_000 });
  });
}
