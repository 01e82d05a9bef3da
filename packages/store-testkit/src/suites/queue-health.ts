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
    expect(health).toMatchObject({ now: NOW, since: T0, bucket_ms: 1000, names_truncated: false });
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

  test('getQueueHealth counts every attempt of the window, however many, and the wait of every attempt, retries included', async () => {
    const store = await open();
    // 1,200 attempts of one name in a 10 s window: 600 started at T0+100 (wait 100), 600 at T0+2500 (wait 2500)
    await store.createTasks(Array.from({ length: 1200 }, () => newTask({ name: 'busy', max_retries: 0 })), T0);
    const claimAll = async (now: number, want: number) => {
      let claimed: Awaited<ReturnType<Store['claimTasks']>> = [];
      while (claimed.length < want) claimed = claimed.concat(await store.claimTasks({ worker_id: 'w1', now, limit: want - claimed.length, names: ['busy'] }));
      return claimed;
    };
    const early = await claimAll(T0 + 100, 600);
    const late = await claimAll(T0 + 2500, 600);
    const fence = (task: (typeof early)[number]) => ({ task_id: task.id, worker_id: 'w1', attempt: task.attempt });
    // 550 complete at T0+1100 (run 1000), 50 fail at T0+1500 (run 1400), 600 complete at T0+5234 (run 2734)
    await store.finishAttempts(early.slice(0, 550).map((task) => ({ fence: fence(task), outcome: { kind: 'completed', result: null } as const })), T0 + 1100);
    await store.finishAttempts(early.slice(550).map((task) => ({ fence: fence(task), outcome: { kind: 'failed', status: 'failed', error: 'e' } as const })), T0 + 1500);
    await store.finishAttempts(late.map((task) => ({ fence: fence(task), outcome: { kind: 'completed', result: null } as const })), T0 + 5234);
    // a retried task: its first attempt waited 100 ms, its retry 500 ms (due again at its failure)
    await createOne(store, { name: 'retry', max_retries: 2, retry_interval: 0 }, T0);
    const first = await claimOne(store, { names: ['retry'], now: T0 + 100 });
    await expectApplied(store.finishAttempt(fenceOf(first), { kind: 'failed', status: 'failed', error: 'e1' }, T0 + 200));
    await claimOne(store, { names: ['retry'], now: T0 + 700 });

    const health = await store.getQueueHealth({ now: NOW, window_ms: 10_000, buckets: 10 });
    expect(health.names.map((n) => [n.name, n.started, n.completed, n.failed, n.failed_last_hour, n.wait_p50, n.wait_p95, n.run_p50, n.run_p95])).toEqual([
      // runs 550 × 1000, 50 × 1400, 600 × 2734: p50 is the 600th (1400), p95 the 1140th, 2734 kept to 2730
      ['busy', 1200, 1150, 50, 50, 100, 2500, 1400, 2730],
      ['retry', 2, 0, 1, 1, 100, 500, 100, 100],
    ]);
    expect(health.buckets.map((b) => [b.completed, b.failed, b.wait_p50])).toEqual([
      // the retried task's failure at T0+200 and both its waits (100, 500) are in the first bucket
      [0, 1, 100],
      [550, 50, null],
      [0, 0, 2500],
      [0, 0, null],
      [0, 0, null],
      [600, 0, null],
      ...Array.from({ length: 4 }, () => [0, 0, null]),
    ]);
    // the hour of failed_last_hour is read beyond a shorter window
    const short = await store.getQueueHealth({ now: T0 + 3000, window_ms: 1000, buckets: 1 });
    expect(short.names.map((n) => [n.name, n.started, n.completed, n.failed_last_hour, n.wait_p50])).toEqual([
      ['busy', 600, 0, 50, 2500],
      ['retry', 0, 0, 1, null],
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
