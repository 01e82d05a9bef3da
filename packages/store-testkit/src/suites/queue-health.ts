import { QUEUE_HEALTH_LIMITS, TASK_STATUSES, ValidationError, type Store, type TaskStatus } from '@taskmill/contracts';
import { expect } from 'vitest';
import { claimOne, createOne, expectApplied, fenceOf, newTask, T0 } from '../fixtures.js';
import type { SuiteContext } from '../suite-context.js';

const NOW = T0 + 10_000;
const HOUR = 3_600_000;
const NONE = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0])) as Record<TaskStatus, number>;

/**
 * Known history, the window being [T0, T0+10 s] in ten 1 s buckets:
 * - `a` before the window: created T0−6000, started T0−5000, failed T0−4000 (in the last hour).
 * - `a` #1: due T0, started T0+100 (wait 100), completed T0+400 (run 300).
 * - `a` #2: due T0, started T0+200 (wait 200), failed T0+1200 (run 1000), permanently.
 * - `a` #3: due T0+5000, still pending; `a` #4: due T0+60 s, pending, not due.
 * - `b` #5: due T0, started T0+300 (wait 300), still running.
 */
async function history(store: Store): Promise<void> {
  await createOne(store, { name: 'a', max_retries: 1, next_run_time: T0 - 6000 }, T0 - 6000);
  const early = await claimOne(store, { names: ['a'], now: T0 - 5000 });
  await expectApplied(store.finishAttempt(fenceOf(early), { kind: 'failed', status: 'failed', error: 'e0' }, T0 - 4000));
  await createOne(store, { name: 'a', max_retries: 1 }, T0);
  await createOne(store, { name: 'a', max_retries: 1 }, T0);
  await createOne(store, { name: 'b' }, T0);
  const first = await claimOne(store, { names: ['a'], now: T0 + 100 });
  const second = await claimOne(store, { names: ['a'], now: T0 + 200 });
  await claimOne(store, { names: ['b'], now: T0 + 300 });
  await expectApplied(store.finishAttempt(fenceOf(first), { kind: 'completed', result: null }, T0 + 400));
  await expectApplied(store.finishAttempt(fenceOf(second), { kind: 'failed', status: 'failed', error: 'e2' }, T0 + 1200));
  await createOne(store, { name: 'a', next_run_time: T0 + 5000 }, T0 + 5000);
  await createOne(store, { name: 'a', next_run_time: T0 + 60_000 }, T0 + 5000);
}

/** Queue health per name and the window's buckets (docs/behaviour.md#queue-health). */
export function defineQueueHealthTests({ test, open }: SuiteContext): void {
  test('getQueueHealth reports per name the counts now, failures of the last hour, the oldest due task, and wait and run percentiles of the window', async () => {
    const store = await open();
    await history(store);
    const health = await store.getQueueHealth({ now: NOW, window_ms: 10_000, buckets: 10 });
    expect(health).toMatchObject({ now: NOW, since: T0, bucket_ms: 1000, attempts_truncated: false, names_truncated: false });
    expect(health.by_status).toEqual({ ...NONE, pending: 2, running: 1, completed: 1, permanently_failed: 2 });
    expect(health.names).toEqual([
      {
        name: 'a',
        statuses: { ...NONE, pending: 2, completed: 1, permanently_failed: 2 },
        pending: 2,
        due: 1,
        running: 0,
        failed_last_hour: 2,
        oldest_due_at: T0 + 5000,
        started: 2,
        completed: 1,
        failed: 1,
        wait_p50: 100,
        wait_p95: 200,
        run_p50: 300,
        run_p95: 1000,
      },
      {
        name: 'b',
        statuses: { ...NONE, running: 1 },
        pending: 0,
        due: 0,
        running: 1,
        failed_last_hour: 0,
        oldest_due_at: null,
        started: 1,
        completed: 0,
        failed: 0,
        wait_p50: 300,
        wait_p95: 300,
        run_p50: null,
        run_p95: null,
      },
    ]);
    // completions and failures in the bucket they ended in; waits in the bucket they started in
    expect(health.buckets).toHaveLength(10);
    expect(health.buckets.map((b) => b.start)).toEqual(Array.from({ length: 10 }, (_, i) => T0 + i * 1000));
    expect(health.buckets.map((b) => [b.completed, b.failed, b.wait_p50])).toEqual([
      [1, 0, 200],
      [0, 1, null],
      ...Array.from({ length: 8 }, () => [0, 0, null]),
    ]);
    // an hour later the failures have left the last hour and the window is empty
    const later = await store.getQueueHealth({ now: NOW + HOUR, window_ms: 900_000, buckets: 15 });
    expect(later.names.map((n) => [n.name, n.failed_last_hour, n.started, n.wait_p50, n.due, n.oldest_due_at])).toEqual([
      ['a', 0, 0, null, 2, T0 + 5000],
      ['b', 0, 0, null, 0, null],
    ]);
    expect(later.buckets.every((b) => b.completed === 0 && b.failed === 0 && b.wait_p50 === null)).toBe(true);
  });

  test('getQueueHealth reads each name\'s latest max_attempts_per_name attempts of the window and says when a name had more', async () => {
    const store = await open();
    const cap = QUEUE_HEALTH_LIMITS.max_attempts_per_name;
    await store.createTasks(Array.from({ length: cap + 1 }, () => newTask({ name: 'busy' })), T0);
    await createOne(store, { name: 'calm' }, T0);
    // the busy name's oldest attempt waited 100 ms, its latest `cap` 300 ms
    await claimOne(store, { names: ['busy'], now: T0 + 100 });
    await claimOne(store, { names: ['calm'], now: T0 + 200 });
    let claimed = 0;
    while (claimed < cap) claimed += (await store.claimTasks({ worker_id: 'w1', now: T0 + 300, limit: cap - claimed, names: ['busy'] })).length;
    const health = await store.getQueueHealth({ now: NOW, window_ms: 10_000, buckets: 1 });
    expect(health.attempts_truncated).toBe(true);
    expect(health.names.map((n) => [n.name, n.running, n.started, n.wait_p50, n.wait_p95])).toEqual([
      ['busy', cap + 1, cap, 300, 300],
      ['calm', 1, 1, 200, 200],
    ]);
    expect(health.buckets[0].wait_p50).toBe(300);
    const fewer = await store.getQueueHealth({ now: T0 + 250, window_ms: 10_000, buckets: 1 });
    expect(fewer.attempts_truncated).toBe(false);
    expect(fewer.names.map((n) => [n.name, n.started, n.wait_p50])).toEqual([
      ['busy', 1, 100],
      ['calm', 1, 200],
    ]);
  });

  test('getQueueHealth refuses a bad query with a ValidationError', async () => {
    const store = await open();
    const bad: unknown[] = [
      undefined,
      { now: NOW, window_ms: 0, buckets: 1 },
      { now: NOW, window_ms: QUEUE_HEALTH_LIMITS.max_window_ms + 1000, buckets: 1 },
      { now: NOW, window_ms: 1000, buckets: 0 },
      { now: NOW, window_ms: 1000, buckets: 7 },
      { now: NOW, window_ms: 300_000_000, buckets: QUEUE_HEALTH_LIMITS.max_buckets + 1 },
      { now: String(NOW), window_ms: 1000, buckets: 1 },
      { now: NOW, window_ms: 1.5, buckets: 1 },
    ];
    for (const query of bad) await expect(store.getQueueHealth(query as never), JSON.stringify(query)).rejects.toBeInstanceOf(ValidationError);
  });
}
