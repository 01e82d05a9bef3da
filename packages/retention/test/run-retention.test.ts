import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NEW_TASK_DEFAULTS, ValidationError, type PurgeInput, type PurgeResult, type RetentionStore, type Store, type TaskId } from '@taskmill/contracts';
import { createSqliteStore } from '@taskmill/store-sqlite';
import { runRetention, sweepRetention } from '../src/index.js';

/** A store double: `backlog[status]` expired tasks per status, deleted `limit` at a time. */
function fakeStore(backlog: Record<string, number>, delayMs = 0) {
  const calls: PurgeInput[] = [];
  const store: RetentionStore = {
    async purgeExpiredTasks(input): Promise<PurgeResult> {
      calls.push(input);
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      let n = 0;
      for (const status of input.statuses) {
        const take = Math.min(backlog[status] ?? 0, input.limit - n);
        backlog[status] = (backlog[status] ?? 0) - take;
        n += take;
      }
      return { tasks_deleted: n, events_deleted: 3 * n, attempts_deleted: n, has_more: n === input.limit };
    },
  };
  return { store, calls };
}

describe('runRetention with a store double', () => {
  it('drains batch after batch until a batch is not full, and sums what each deleted', async () => {
    const { store, calls } = fakeStore({ completed: 250 });
    const result = await runRetention(store, { expire_time: 10, now: 100_000 });
    expect(result).toEqual({ tasks_deleted: 250, events_deleted: 750, attempts_deleted: 250 });
    expect(calls).toHaveLength(3);
    expect(calls[0]).toEqual({ statuses: ['completed', 'permanently_failed'], before: 90_000, limit: 100 });
  });

  it('takes one batch per rule in turn, each rule with its own cutoff', async () => {
    const { store, calls } = fakeStore({ completed: 30, permanently_failed: 10 });
    const result = await runRetention(
      store,
      [
        { expire_time: 1, statuses: ['completed'], now: 10_000 },
        { expire_time: 5, statuses: ['permanently_failed'], now: 10_000 },
      ],
      { batch_size: 10 },
    );
    expect(result.tasks_deleted).toBe(40);
    expect(calls.map((c) => `${c.statuses.join()}<${c.before}`)).toEqual([
      'completed<9000',
      'permanently_failed<5000',
      'completed<9000',
      'permanently_failed<5000',
      'completed<9000',
      'completed<9000',
    ]);
  });

  it('reports the running totals after each committed batch through onBatch', async () => {
    const { store, calls } = fakeStore({ completed: 25 });
    const seen: unknown[] = [];
    await runRetention(store, { expire_time: 1, now: 10_000 }, { batch_size: 10, onBatch: (p) => seen.push({ ...p, calls: calls.length }) });
    expect(seen).toEqual([
      { tasks_deleted: 10, events_deleted: 30, attempts_deleted: 10, batches: 1, calls: 1 },
      { tasks_deleted: 20, events_deleted: 60, attempts_deleted: 20, batches: 2, calls: 2 },
      { tasks_deleted: 25, events_deleted: 75, attempts_deleted: 25, batches: 3, calls: 3 },
    ]);
  });

  it('calls the store with a whole-millisecond cutoff fixed at the start of the run', async () => {
    const { store, calls } = fakeStore({ completed: 20 });
    await runRetention(store, { expire_time: 0.0015, now: 1000 }, { batch_size: 10 });
    expect(calls.map((c) => c.before)).toEqual([998, 998, 998]);
  });

  it("takes its cutoff from the clock it is given, read once at the start; a rule's own now wins", async () => {
    const { store, calls } = fakeStore({ completed: 20, permanently_failed: 5 });
    let reads = 0;
    const clock = () => (reads++, 50_000);
    await runRetention(store, [{ expire_time: 10, statuses: ['completed'] }, { expire_time: 10, statuses: ['permanently_failed'], now: 30_000 }], { batch_size: 10, now: clock });
    expect(calls.map((c) => `${c.statuses.join()}<${c.before}`)).toEqual([
      'completed<40000',
      'permanently_failed<20000',
      'completed<40000',
      'completed<40000',
    ]);
    expect(reads).toBe(1);
    const swept = fakeStore({ completed: 5 });
    await sweepRetention(swept.store, 10, { now: () => 50_000 });
    expect(swept.calls.map((c) => c.before)).toEqual([40_000]);
  });

  it('refuses a clock that is not a function or reads no valid time, deleting nothing', async () => {
    const { store, calls } = fakeStore({ completed: 5 });
    await expect(runRetention(store, 1, { now: 5 as never })).rejects.toThrow('retention now must be a function returning ms since the epoch');
    await expect(runRetention(store, 1, { now: () => Number.NaN })).rejects.toThrow('retention now() must return a time in ms since the epoch');
    await expect(sweepRetention(store, 1, { now: () => -1 })).rejects.toThrow(ValidationError);
    expect(calls).toHaveLength(0);
  });

  it('deletes nothing and touches no store when the policy is invalid or disabled', async () => {
    const { store, calls } = fakeStore({ completed: 5 });
    await expect(runRetention(store, { expire_time: 0 })).rejects.toThrow(ValidationError);
    await expect(runRetention(store, [{ expire_time: 1, statuses: ['completed'] }, { expire_time: 1, statuses: ['running'] }] as never)).rejects.toThrow(
      'Unsupported retention status: running',
    );
    await expect(runRetention(store, 1, { batch_size: 0 })).rejects.toThrow('retention batch_size must be a positive integer');
    await expect(runRetention(store, 1, { onBatch: 'log' as never })).rejects.toThrow('retention onBatch must be a function');
    expect(await runRetention(store, { expire_time: null })).toEqual({ tasks_deleted: 0, events_deleted: 0, attempts_deleted: 0 });
    expect(calls).toHaveLength(0);
  });
});

describe('sweepRetention', () => {
  it('starts no batch once its time slice has passed, and says it did not finish', async () => {
    const { store, calls } = fakeStore({ completed: 10_000 }, 20);
    const startedAt = Date.now();
    const result = await sweepRetention(store, 1, { batch_size: 10, time_budget_ms: 100 });
    const took = Date.now() - startedAt;
    expect(result.finished).toBe(false);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls.length).toBeLessThan(20);
    expect(took).toBeLessThan(100 + 200);
    expect(result.tasks_deleted).toBe(calls.length * 10);
  });

  it('finishes within its slice when the backlog is small', async () => {
    const { store } = fakeStore({ completed: 15 });
    expect(await sweepRetention(store, 1, { batch_size: 10, time_budget_ms: 10_000 })).toEqual({
      tasks_deleted: 15,
      events_deleted: 45,
      attempts_deleted: 15,
      finished: true,
    });
  });

  it('stops between batches when its signal aborts', async () => {
    const { store, calls } = fakeStore({ completed: 1000 }, 5);
    const abort = new AbortController();
    const sweep = sweepRetention(store, 1, { batch_size: 10, signal: abort.signal });
    abort.abort();
    expect((await sweep).finished).toBe(false);
    expect(calls).toHaveLength(1);
  });
});

describe('runRetention on a store alone (SQLite, no TaskManager)', () => {
  const DAY = 86_400_000;
  const now = Date.UTC(2026, 0, 10);
  let store: Store;

  beforeEach(async () => {
    store = createSqliteStore('sqlite::memory:');
    await store.setup();
  });
  afterEach(async () => {
    await store.close();
  });

  const task = (name: string, max_retries = 1) => ({
    name,
    type: 'async' as const,
    payload: '{}',
    priority: 0,
    tag: null,
    next_run_time: 0,
    timeout: 60,
    max_retries,
    retry_interval: 0,
    cron_expr: null,
    cron_tz: null,
    ...NEW_TASK_DEFAULTS,
  });

  /** Create `n` tasks of `name` at `at` and run each to `outcome` at `at`. */
  async function finished(name: string, n: number, outcome: 'completed' | 'failed', at: number): Promise<TaskId[]> {
    const ids = await store.createTasks(Array.from({ length: n }, () => task(name)), at);
    const claimed = await store.claimTasks({ worker_id: 'w', now: at, limit: n, names: [name] });
    for (const t of claimed) {
      const fence = { task_id: t.id, worker_id: 'w', attempt: t.attempt };
      await store.finishAttempt(fence, outcome === 'completed' ? { kind: 'completed', result: '1' } : { kind: 'failed', status: 'failed', error: 'boom' }, at);
    }
    return ids;
  }

  it('deletes expired completed and permanently_failed tasks with their events and attempts, in batches', async () => {
    const old = now - 2 * DAY;
    const done = await finished('done', 230, 'completed', old);
    const failed = await finished('failed', 3, 'failed', old);
    const recent = await finished('done', 2, 'completed', now - 1000);
    const [pending] = await store.createTasks([task('pending')], old);
    const [paused] = await store.createTasks([task('paused')], old);
    await store.pauseTask(paused, old);
    expect((await store.getTask(failed[0]))!.status).toBe('permanently_failed');

    const result = await runRetention(store, { expire_time: 86_400, now });
    expect(result.tasks_deleted).toBe(233);
    expect(result.attempts_deleted).toBe(233);
    // every deleted task had at least its created, claimed, started and final events
    expect(result.events_deleted).toBeGreaterThanOrEqual(233 * 4);

    for (const id of [done[0], done[229], failed[2]]) {
      expect(await store.getTask(id)).toBeNull();
      expect((await store.queryTaskEvents(id, {})).items).toEqual([]);
      expect((await store.queryTaskAttempts(id, {})).items).toEqual([]);
    }
    for (const id of [...recent, pending, paused]) expect(await store.getTask(id)).not.toBeNull();
    expect((await store.queryTaskEvents(pending, {})).items.length).toBeGreaterThan(0);

    // paused is opt-in
    expect((await runRetention(store, { expire_time: 86_400, statuses: ['paused'], now })).tasks_deleted).toBe(1);
    expect(await store.getTask(paused)).toBeNull();
    expect(await store.getTask(pending)).not.toBeNull();
  });

  it('keeps failures longer than successes with one rule per status', async () => {
    const done = await finished('done', 1, 'completed', now - 2 * DAY);
    const failed = await finished('failed', 1, 'failed', now - 2 * DAY);
    const oldFailed = await finished('failed', 1, 'failed', now - 8 * DAY);
    const policy = [
      { expire_time: 86_400, statuses: ['completed' as const], now },
      { expire_time: 7 * 86_400, statuses: ['permanently_failed' as const], now },
    ];
    expect((await runRetention(store, policy)).tasks_deleted).toBe(2);
    expect(await store.getTask(done[0])).toBeNull();
    expect(await store.getTask(oldFailed[0])).toBeNull();
    expect(await store.getTask(failed[0])).not.toBeNull();
  });
});
