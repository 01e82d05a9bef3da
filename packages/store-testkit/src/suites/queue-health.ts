import { QUEUE_HEALTH_LIMITS, TASK_STATUSES, ValidationError, type QueueHealth, type Store, type TaskStatus } from '@taskmill/contracts';
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
const MINUTE = 60_000;

/**
 * History near the database clock (the rollup judges finality on it), `base` a whole minute 40 min
 * before it, `now` the end of the database clock's minute:
 * - `a` #1: due base, started base+1 s (wait 1000), completed base+61 s (run 60 s: minute 0 → 1);
 * - `a` #2: due base, started base+2 s, failed base+3 s, permanently;
 * - `b` #3: due base+100 s, started base+120.5 s (wait 20,500), completed base+150 s;
 * - `b` #4: due base+100 s, started base+180 s, still running (minute 3 stays open, read live);
 * - `a` #5: due now's minute − 2 min, started at the database clock (a minute not final yet), completed;
 * - `a` #6: due later, pending, so that `a` keeps a task after retention.
 */
async function recentHistory(store: Store): Promise<{ base: number; now: number }> {
  const clock = await store.serverTime();
  const minute = Math.floor(clock / MINUTE) * MINUTE;
  const base = minute - 40 * MINUTE;
  await createOne(store, { name: 'a', max_retries: 0, next_run_time: base }, base);
  await createOne(store, { name: 'a', max_retries: 0, next_run_time: base }, base);
  const one = await claimOne(store, { names: ['a'], now: base + 1000 });
  const two = await claimOne(store, { names: ['a'], now: base + 2000 });
  await expectApplied(store.finishAttempt(fenceOf(two), { kind: 'failed', status: 'failed', error: 'e' }, base + 3000));
  await expectApplied(store.finishAttempt(fenceOf(one), { kind: 'completed', result: null }, base + 61_000));
  await createOne(store, { name: 'b', next_run_time: base + 100_000 }, base + 100_000);
  await createOne(store, { name: 'b', next_run_time: base + 100_000 }, base + 100_000);
  const three = await claimOne(store, { names: ['b'], now: base + 120_500 });
  await expectApplied(store.finishAttempt(fenceOf(three), { kind: 'completed', result: null }, base + 150_000));
  await claimOne(store, { names: ['b'], now: base + 180_000 });
  await createOne(store, { name: 'a', max_retries: 0, next_run_time: minute - 2 * MINUTE }, minute - 2 * MINUTE);
  const five = await claimOne(store, { names: ['a'], now: clock });
  await expectApplied(store.finishAttempt(fenceOf(five), { kind: 'completed', result: null }, clock));
  await createOne(store, { name: 'a', next_run_time: clock + 3_600_000 }, clock);
  return { base, now: minute + MINUTE - 1 };
}

/** Per name figures, and the buckets' counts summed two by two (30 s buckets into the minutes of the rollup). */
function comparable(health: QueueHealth, pairs: boolean) {
  const counts = health.buckets.map((b) => [b.completed, b.failed]);
  const merged = pairs ? counts.filter((_, i) => i % 2 === 0).map((c, i) => [c[0] + counts[2 * i + 1][0], c[1] + counts[2 * i + 1][1]]) : counts;
  return { since: health.since, names: health.names, buckets: merged };
}

/** Queue health per name and the window's buckets (docs/behaviour.md#queue-health). */
export function defineQueueHealthTests({ test, open, peer, harness }: SuiteContext): void {
  test('getQueueHealth reads closed minutes from the rollup, filled by the reader once: figures equal to those read from every attempt, no attempt counted twice at the edges', async () => {
    const store = await open();
    const { base, now } = await recentHistory(store);
    // buckets of 30 s are read from the attempts alone; buckets of a minute from the rollup and the open minutes
    const live = await store.getQueueHealth({ now, window_ms: 3_600_000, buckets: 120 });
    expect(await harness.rawRows(store, 'taskmill_health_minutes')).toEqual([]);
    const first = await store.getQueueHealth({ now, window_ms: 3_600_000, buckets: 60 });
    const rows = await harness.rawRows(store, 'taskmill_health_minutes');
    const marked = rows.filter((r) => r.kind === '*').map((r) => Number(r.minute) * MINUTE);
    // the minutes ended 2 min before the database clock are rolled up, but not the one with an open attempt
    expect(marked).toContain(base);
    expect(marked).toContain(base + 2 * MINUTE);
    expect(marked).not.toContain(base + 3 * MINUTE);
    expect(marked).not.toContain(now + 1 - MINUTE);
    expect(marked).not.toContain(now + 1 - 3 * MINUTE);
    const warm = await store.getQueueHealth({ now, window_ms: 3_600_000, buckets: 60 });
    expect(warm).toEqual(first);
    expect(await harness.rawRows(store, 'taskmill_health_minutes')).toHaveLength(rows.length);
    expect(comparable(first, false)).toEqual(comparable(live, true));
    // waits 1000 (read as 1050), 2000 (2050) and #5's (2 to 3 min); runs 60,000 (of [60,000, 61,000): 60,500), 1000 (1050), 0
    expect(first.names.map((n) => [n.name, n.started, n.completed, n.failed, n.failed_last_hour, n.wait_p50, n.run_p50, n.run_p95])).toEqual([
      ['a', 3, 2, 1, 1, 2050, 1050, 60_500],
      ['b', 2, 1, 0, 0, 20_500, 29_500, 29_500],
    ]);
    expect(first.names[0].wait_p95).toBeGreaterThanOrEqual(120_000);
    expect(first.names[1].wait_p95).toBe(80_500);
    // #1 ends in the minute after it started: one completion, in that minute's bucket
    const bucketOf = (t: number) => first.buckets.findIndex((b) => b.start <= t && t < b.start + MINUTE);
    expect(first.buckets[bucketOf(base + 61_000)].completed).toBe(1);
    expect(first.buckets[bucketOf(base)].completed).toBe(0);
    expect(first.buckets.reduce((sum, b) => sum + b.completed, 0)).toBe(3);
  });

  test('getQueueHealth fills a minute of the rollup once when readers race, and every reader reads the same figures', async () => {
    const store = await open();
    const other = await peer(store);
    const { now } = await recentHistory(store);
    const query = { now, window_ms: 3_600_000, buckets: 60 };
    const results = await Promise.all([store, other, store, other].map((s) => s.getQueueHealth(query)));
    for (const result of results.slice(1)) expect(result).toEqual(results[0]);
    const rows = await harness.rawRows(store, 'taskmill_health_minutes');
    const keys = rows.map((r) => `${r.minute}/${String(r.name)}/${r.kind}/${r.k}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(await store.getQueueHealth(query)).toEqual(results[0]);
    expect(comparable(results[0], false)).toEqual(comparable(await store.getQueueHealth({ ...query, buckets: 120 }), true));
  });

  test('getQueueHealth keeps a rolled-up minute when retention deletes its attempts, and prunes the rollup after 8 days', async () => {
    const store = await open();
    const clock = await store.serverTime();
    const ancient = Math.floor((clock - 9 * 24 * 3_600_000) / MINUTE);
    await harness.insertRaw(store, 'taskmill_health_minutes', { minute: ancient, name: 'a', kind: 'n', k: ancient, n: 1, c: 1, f: 0 });
    const { base, now } = await recentHistory(store);
    const query = { now, window_ms: 3_600_000, buckets: 60 };
    const before = await store.getQueueHealth(query);
    expect((await harness.rawRows(store, 'taskmill_health_minutes')).filter((r) => Number(r.minute) === ancient)).toEqual([]);
    // retention deletes the finished tasks of the first minutes with their attempts
    const purged = await store.purgeExpiredTasks({ statuses: ['completed', 'permanently_failed'], before: base + 200_000, limit: 100 });
    expect(purged.attempts_deleted).toBe(3);
    const after = await store.getQueueHealth(query);
    // `a` and `b` keep their figures of the rolled-up minutes; read from the attempts alone they are gone
    expect(after.names.map((n) => [n.name, n.started, n.completed, n.failed])).toEqual(before.names.map((n) => [n.name, n.started, n.completed, n.failed]));
    const live = await store.getQueueHealth({ ...query, buckets: 120 });
    expect(live.names.map((n) => [n.name, n.started, n.completed, n.failed])).toEqual([
      ['a', 1, 1, 0],
      ['b', 1, 0, 0],
    ]);
  });

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
        // bins of at most 5%: 100 stands for [100, 110), read as its middle 105
        wait_p50: 105,
        wait_p95: 205,
        run_p50: 305,
        run_p95: 1050,
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
        wait_p50: 305,
        wait_p95: 305,
        run_p50: null,
        run_p95: null,
      },
    ]);
    // completions and failures in the bucket they ended in; waits in the bucket they started in
    expect(health.buckets).toHaveLength(10);
    expect(health.buckets.map((b) => b.start)).toEqual(Array.from({ length: 10 }, (_, i) => T0 + i * 1000));
    expect(health.buckets.map((b) => [b.completed, b.failed, b.wait_p50])).toEqual([
      [1, 0, 205],
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
      // runs 550 × 1000, 50 × 1400, 600 × 2734: p50 is the 600th (1400), p95 the 1140th, each read as
      // the middle of its bin (1400 of [1400, 1500) as 1450, 2734 of [2700, 2800) as 2750)
      ['busy', 1200, 1150, 50, 50, 105, 2550, 1450, 2750],
      ['retry', 2, 0, 1, 1, 105, 505, 105, 105],
    ]);
    expect(health.buckets.map((b) => [b.completed, b.failed, b.wait_p50])).toEqual([
      // the retried task's failure at T0+200 and both its waits (100, 500) are in the first bucket
      [0, 1, 105],
      [550, 50, null],
      [0, 0, 2550],
      [0, 0, null],
      [0, 0, null],
      [600, 0, null],
      ...Array.from({ length: 4 }, () => [0, 0, null]),
    ]);
    // the hour of failed_last_hour is read beyond a shorter window
    const short = await store.getQueueHealth({ now: T0 + 3000, window_ms: 1000, buckets: 1 });
    expect(short.names.map((n) => [n.name, n.started, n.completed, n.failed_last_hour, n.wait_p50])).toEqual([
      ['busy', 600, 0, 50, 2550],
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
